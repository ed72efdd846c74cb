using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.Platform;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>
/// A store someone else wrote, with symlinks planted at every level (namespace, type, group, snapshot,
/// .chunks prefix directory, chunk file) pointing at a directory outside it: no maintenance operation
/// may change anything outside, and each refuses with a clear error where it cannot go on.
/// </summary>
public sealed class HostileStoreTests : IClassFixture<TempStore>, IDisposable
{
    private const string Time = "2020-01-01T00:00:00Z";
    private readonly DataStore _store;
    private readonly TempDir _tmp = new("backupfs-hostile-");
    private readonly string _outside;
    private readonly string _before;

    public HostileStoreTests(TempStore fixture)
    {
        _store = fixture.Store;
        _outside = _tmp.Sub("outside");
        OutsideTree.Populate(_outside);
        _before = OutsideTree.Fingerprint(_outside);
    }

    public void Dispose() => _tmp.Dispose();

    private void AssertOutsideUnchanged() => Assert.Equal(_before, OutsideTree.Fingerprint(_outside));

    private string Plant(string relative, string target)
    {
        var link = _store.FullPath(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        File.CreateSymbolicLink(link, target);
        return link;
    }

    [Fact]
    public async Task NamespaceRemoveRefusesASymlinkedNamespace()
    {
        Plant("ns/evil", _outside);

        var e = await Assert.ThrowsAsync<UnsafePathException>(() => NamespaceAdmin.RemoveAsync(_store, BackupNamespace.Parse("evil"), recursive: true));

        Assert.Contains("symbolic link", e.Message);
        Assert.DoesNotContain(_store.ListNamespaces(BackupNamespace.Root, recursive: true), n => n.Display == "evil");
        AssertOutsideUnchanged();
    }

    [Fact]
    public async Task RecursiveRemovalOfAParentNeverEntersASymlinkedChild()
    {
        var parent = BackupNamespace.Parse("parent-of-evil");
        await NamespaceAdmin.CreateAsync(_store, parent);
        await BackupAsync(_store, new BackupGroup(parent, BackupType.Host, "real"), Pseudo(10_000, 1));
        Plant("ns/parent-of-evil/ns/evil", _outside);

        var result = await NamespaceAdmin.RemoveAsync(_store, parent, recursive: true);

        Assert.Equal(1, result.RemovedSnapshots);
        AssertOutsideUnchanged();
        // The namespace still holds the link, so it stays (nothing but real, empty directories is removed).
        Assert.True(IsSymlink(_store.FullPath("ns/parent-of-evil/ns/evil")));
    }

    [Theory]
    [InlineData("ns/type-link/host", "host", "type-link")]
    [InlineData("ns/group-link/host/y", "host/y", "group-link")]
    [InlineData("ns/snap-link/host/y/" + Time, "host/y/" + Time, "snap-link")]
    public async Task ForgetAndPruneRefuseASymlinkAtTypeGroupOrSnapshotLevel(string linkAt, string targetInOutside, string ns)
    {
        Plant(linkAt, Path.Combine(_outside, targetInOutside));
        var snapshot = new SnapshotRef(new BackupGroup(BackupNamespace.Parse(ns), BackupType.Host, "y"), NameRules.ParseBackupTime(Time));

        var forget = await Assert.ThrowsAnyAsync<BackupFsException>(() => new Pruner(_store).ForgetAsync(snapshot));
        Assert.Contains("symbolic link", forget.Message);
        if (!linkAt.EndsWith(Time))
            await Assert.ThrowsAnyAsync<BackupFsException>(() => new Pruner(_store).PruneAsync(snapshot.Group, new KeepOptions(Last: 0)));
        else
            await new Pruner(_store).PruneAsync(snapshot.Group, new KeepOptions(Last: 1)); // the link is no snapshot: not listed, not touched
        // Removing the namespace: a link as a type is content the namespace keeps; a link inside a real
        // group goes with the group (the link itself is unlinked, never followed).
        var removal = await NamespaceAdmin.RemoveAsync(_store, BackupNamespace.Parse(ns), recursive: true);
        if (ns == "type-link") Assert.True(IsSymlink(_store.FullPath(linkAt)));

        AssertOutsideUnchanged();
    }

    [Fact]
    public async Task ProtectAndUnprotectRefuseASymlinkedGroup()
    {
        File.WriteAllText(Path.Combine(_outside, "host/y", Time, DataStore.ProtectedMarker), "");
        var before = OutsideTree.Fingerprint(_outside);
        Plant("ns/protect-link/host/y", Path.Combine(_outside, "host/y"));
        var snapshot = new SnapshotRef(new BackupGroup(BackupNamespace.Parse("protect-link"), BackupType.Host, "y"), NameRules.ParseBackupTime(Time));

        await Assert.ThrowsAsync<UnsafePathException>(() => SnapshotProtection.SetAsync(_store, snapshot, protect: false));
        await Assert.ThrowsAsync<UnsafePathException>(() => SnapshotProtection.SetAsync(_store, snapshot, protect: true));

        Assert.Equal(before, OutsideTree.Fingerprint(_outside));
    }

    [Fact]
    public async Task ForgetRemovesASymlinkInsideASnapshotButNotWhatItPointsTo()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/inner-links"), Pseudo(20_000, 2));
        Plant(snap.RelativePath + "/extra.blob", Path.Combine(_outside, "data/secret"));
        Plant(snap.RelativePath + "/dir-link", Path.Combine(_outside, "host"));

        await new Pruner(_store).ForgetAsync(snap);

        Assert.False(Directory.Exists(_store.FullPath(snap.RelativePath)));
        AssertOutsideUnchanged();
    }

    [Fact]
    public async Task AManifestThatIsAFifoADeviceLinkOrTooLargeFailsAtOnce()
    {
        var group = BackupGroup.Parse("host/bad-manifests");
        var cases = new (long Time, Action<string> Make, string Expect)[]
        {
            (1_600_000_001, p => Posix.Mkfifo(Posix.PathBytes(p), 0x1A4), "FIFO"),
            (1_600_000_002, p => File.CreateSymbolicLink(p, "/dev/zero"), "symbolic link"),
            (1_600_000_003, p => { using var f = File.Create(p); f.SetLength(StoreFileLimits.Blob + 1); }, "too large"),
        };
        foreach (var (time, make, expect) in cases)
        {
            var snap = new SnapshotRef(group, time);
            Directory.CreateDirectory(_store.FullPath(snap.RelativePath));
            make(Path.Combine(_store.FullPath(snap.RelativePath), DataStore.ManifestName));

            var open = Task.Run(() => SnapshotReader.Open(_store, snap, new NoChunks()));
            Assert.Same(open, await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(10))));
            var e = await Assert.ThrowsAnyAsync<BackupFsException>(() => open);
            Assert.Contains(expect, e.Message);

            var report = await new Verifier(_store, new VerifyOptions { RecordState = false }).VerifySnapshotAsync(snap);
            Assert.Equal(VerifyOutcome.Failed, report.Snapshots[0].Outcome);
            Assert.Contains(expect, report.Snapshots[0].Errors[0]);
        }
    }

    [Fact]
    public async Task StateBelowDotBackupfsIsPrivate()
    {
        await BackupAsync(_store, BackupGroup.Parse("host/private-state"), Pseudo(1000, 3));
        uint Mode(string p) => Posix.LStat(Posix.PathBytes(p)).Mode & 0xFFF;

        Assert.Equal(0x1C0u, Mode(_store.PrivateDir));
        // Below it (manifest locks where no PBS lock directory exists, staging, S3 state): nothing for others.
        foreach (var entry in Directory.EnumerateFileSystemEntries(_store.PrivateDir, "*", SearchOption.AllDirectories))
            Assert.True((Mode(entry) & 0x7) == 0, $"{entry} is open to others: {Convert.ToString(Mode(entry), 8)}");
    }

    [Fact]
    public async Task ABackupAfterTheLastPossibleTimeFailsWithAClearMessage()
    {
        var group = BackupGroup.Parse("host/end-of-time");
        await BackupAsync(_store, group, Pseudo(1000, 4), time: NameRules.MaxBackupTime);

        var e = await Assert.ThrowsAsync<BackupFsException>(async () =>
        {
            await using var w = await BackupStarter.BeginAsync(_store, group, new BackupOptions());
        });
        Assert.Contains("latest time a snapshot can have", e.Message);
        Assert.Throws<InvalidNameException>(() => NameRules.FormatBackupTime(NameRules.MaxBackupTime + 1));
    }

    [Fact]
    public void ABackupTimeInTheFutureIsRefusedAtParseTime()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_750_000_000);
        var e = Assert.Throws<InvalidNameException>(() => NameRules.ParseNewBackupTime("9999-12-31T23:59:59Z", now));
        Assert.Contains("future", e.Message);
        Assert.Equal(1_750_000_000 + 3600, NameRules.ParseNewBackupTime(NameRules.FormatBackupTime(1_750_000_000 + 3600), now));
        Assert.Throws<InvalidNameException>(() => NameRules.ParseNewBackupTime("1970-01-01T00:00:00Z", now));
    }

    private sealed class NoChunks : IChunkSource
    {
        public ValueTask<ChunkBuffer> ReadChunkAsync(Digest digest, CancellationToken ct = default) => throw new ChunkMissingException(digest);
    }

    private static bool IsSymlink(string path) => Posix.TryLStat(Posix.PathBytes(path)) is { IsSymlink: true };
}
