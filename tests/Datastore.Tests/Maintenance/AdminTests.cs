using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>Protection, owners and namespaces, with the object-store mirror recorded.</summary>
public class AdminTests : IClassFixture<TempStore>
{
    private readonly DataStore _store;
    private readonly RecordingMirror _mirror = new();
    private readonly DataStore _mirrored;

    public AdminTests(TempStore fixture)
    {
        _store = fixture.Store;
        _mirrored = new DataStore(_store.Root, new LocalChunkStore(_store.Root), _mirror);
    }

    [Fact]
    public async Task ProtectAndUnprotectSetTheMarkerAndMirrorIt()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/protect"), Pseudo(10_000, 1));
        var marker = Path.Combine(_store.FullPath(snap.RelativePath), ".protected");

        Assert.True(await SnapshotProtection.SetAsync(_mirrored, snap, protect: true));
        Assert.True(File.Exists(marker));
        Assert.Equal(0, new FileInfo(marker).Length);
        Assert.True(SnapshotProtection.IsProtected(_store, snap));
        Assert.True(_store.GetSnapshotInfo(snap).Protected);
        Assert.False(await SnapshotProtection.SetAsync(_mirrored, snap, protect: true));

        Assert.True(await SnapshotProtection.SetAsync(_mirrored, snap, protect: false));
        Assert.False(File.Exists(marker));
        Assert.Equal(new[]
        {
            $"put-new {snap.RelativePath}/.protected",
            $"put-new {snap.RelativePath}/.protected",
            $"delete {snap.RelativePath}/.protected",
        }, _mirror.Calls);

        var missing = new SnapshotRef(snap.Group, snap.BackupTime + 1);
        await Assert.ThrowsAsync<BackupFsException>(() => SnapshotProtection.SetAsync(_store, missing, true));
    }

    [Fact]
    public async Task ProtectFailsWithoutLocalChangeWhenTheObjectStoreFails()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/protect-fail"), Pseudo(10_000, 2));
        var failing = new DataStore(_store.Root, new LocalChunkStore(_store.Root), new RecordingMirror { Fail = true });
        await Assert.ThrowsAsync<BackendException>(() => SnapshotProtection.SetAsync(failing, snap, true));
        Assert.False(SnapshotProtection.IsProtected(_store, snap));
    }

    [Fact]
    public async Task OwnerCanBeReadAndChanged()
    {
        var group = BackupGroup.Parse("host/owned");
        await BackupAsync(_store, group, Pseudo(10_000, 3));
        Assert.Equal("root@pam", GroupOwnership.Get(_store, group));

        await GroupOwnership.SetAsync(_mirrored, group, "backup@pbs!job1");
        Assert.Equal("backup@pbs!job1", GroupOwnership.Get(_store, group));
        Assert.Equal("backup@pbs!job1\n", File.ReadAllText(Path.Combine(_store.FullPath(group.RelativePath), "owner")));
        Assert.Contains($"put {group.RelativePath}/owner", _mirror.Calls);

        await Assert.ThrowsAsync<InvalidNameException>(() => GroupOwnership.SetAsync(_store, group, "no realm"));
        await Assert.ThrowsAsync<InvalidNameException>(() => GroupOwnership.SetAsync(_store, group, "a@b\nc@d"));
        Assert.Throws<BackupFsException>(() => GroupOwnership.Get(_store, BackupGroup.Parse("host/nobody")));
    }

    [Fact]
    public async Task NamespacesAreCreatedAndOnlyEmptyOnesRemovedUnlessRecursive()
    {
        var ns = BackupNamespace.Parse("admin-a");
        var child = BackupNamespace.Parse("admin-a/b");
        await NamespaceAdmin.CreateAsync(_mirrored, ns);
        await NamespaceAdmin.CreateAsync(_mirrored, child);
        Assert.True(_store.NamespaceExists(child));
        Assert.Contains("put-new ns/admin-a/ns/b/.namespace", _mirror.Calls);
        await Assert.ThrowsAsync<BackupFsException>(() => NamespaceAdmin.CreateAsync(_store, ns));
        await Assert.ThrowsAsync<BackupFsException>(() => NamespaceAdmin.CreateAsync(_store, BackupNamespace.Parse("nope/x")));

        var group = new BackupGroup(child, BackupType.Host, "in-ns");
        var kept = await BackupAsync(_store, group, Pseudo(10_000, 4));
        var gone = await BackupAsync(_store, group, Pseudo(10_000, 5));
        await SnapshotProtection.SetAsync(_store, kept, true);

        var e = await Assert.ThrowsAsync<BackupFsException>(() => NamespaceAdmin.RemoveAsync(_store, ns));
        Assert.Contains("not empty", e.Message);

        var removal = await NamespaceAdmin.RemoveAsync(_mirrored, ns, recursive: true);
        Assert.False(removal.Complete);
        Assert.Equal(new[] { kept }, removal.KeptProtected);
        Assert.Equal(1, removal.RemovedSnapshots);
        Assert.False(_store.SnapshotExists(gone));
        Assert.True(_store.SnapshotExists(kept));
        Assert.True(_store.NamespaceExists(child));

        await SnapshotProtection.SetAsync(_store, kept, false);
        removal = await NamespaceAdmin.RemoveAsync(_mirrored, ns, recursive: true);
        Assert.True(removal.Complete);
        Assert.Equal(new[] { child, ns }, removal.RemovedNamespaces);
        Assert.False(_store.NamespaceExists(ns));
        Assert.Contains("delete ns/admin-a/ns/b/.namespace", _mirror.Calls);
        Assert.Contains("delete ns/admin-a/.namespace", _mirror.Calls);
        Assert.Contains($"delete {group.RelativePath}/owner", _mirror.Calls);

        await Assert.ThrowsAsync<BackupFsException>(() => NamespaceAdmin.RemoveAsync(_store, BackupNamespace.Root));
    }

    [Fact]
    public async Task AnEmptyNamespaceIsRemovedWithoutRecursion()
    {
        var ns = BackupNamespace.Parse("admin-empty");
        await NamespaceAdmin.CreateAsync(_store, ns);
        var removal = await NamespaceAdmin.RemoveAsync(_mirrored, ns);
        Assert.Equal(new[] { ns }, removal.RemovedNamespaces);
        Assert.False(_store.NamespaceExists(ns));
        await Assert.ThrowsAsync<BackupFsException>(() => NamespaceAdmin.RemoveAsync(_store, ns));
    }
}
