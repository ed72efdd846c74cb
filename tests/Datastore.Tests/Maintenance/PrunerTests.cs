using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Writing;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

public class PrunerTests : IClassFixture<TempStore>
{
    private readonly DataStore _store;

    public PrunerTests(TempStore fixture) => _store = fixture.Store;

    private async Task<List<SnapshotRef>> FiveSnapshots(BackupGroup group)
    {
        var list = new List<SnapshotRef>();
        for (int i = 0; i < 5; i++) list.Add(await BackupAsync(_store, group, Pseudo(40_000, i)));
        return list;
    }

    [Fact]
    public async Task KeepLastRemovesTheRestButNeverAProtectedSnapshot()
    {
        var group = BackupGroup.Parse("host/prune-last");
        var s = await FiveSnapshots(group);
        await SnapshotProtection.SetAsync(_store, s[1], protect: true);

        var result = await new Pruner(_store).PruneAsync(group, new KeepOptions(Last: 2));

        Assert.False(result.DryRun);
        Assert.Equal(new[] { PruneMark.Remove, PruneMark.Protected, PruneMark.Remove, PruneMark.Keep, PruneMark.Keep },
            result.Entries.Select(e => e.Mark));
        Assert.Equal(new[] { true, false, true, false, false }, result.Entries.Select(e => e.Removed));
        Assert.Equal(new[] { s[1], s[3], s[4] }, _store.ListFinishedSnapshots(group));
        Assert.False(Directory.Exists(_store.FullPath(s[0].RelativePath)));
        Assert.Equal(2, result.RemovedCount);
    }

    [Fact]
    public async Task DryRunReturnsThePlanAndRemovesNothing()
    {
        var group = BackupGroup.Parse("host/prune-dry");
        var s = await FiveSnapshots(group);

        var result = await new Pruner(_store).PruneAsync(group, new KeepOptions(Last: 1), dryRun: true);

        Assert.True(result.DryRun);
        Assert.Equal(4, result.RemoveCount);
        Assert.Equal(0, result.RemovedCount);
        Assert.Equal(s, _store.ListFinishedSnapshots(group));
    }

    [Fact]
    public async Task NoKeepOptionKeepsEverything()
    {
        var group = BackupGroup.Parse("host/prune-none");
        var s = await FiveSnapshots(group);
        var result = await new Pruner(_store).PruneAsync(group, new KeepOptions());
        Assert.All(result.Entries, e => Assert.Equal(PruneMark.Keep, e.Mark));
        Assert.Equal(s, _store.ListFinishedSnapshots(group));
    }

    [Fact]
    public async Task ForgetRemovesOneSnapshotAndRefusesAProtectedOne()
    {
        var group = BackupGroup.Parse("host/forget");
        var s = await FiveSnapshots(group);
        var pruner = new Pruner(_store);

        await pruner.ForgetAsync(s[2]);
        Assert.Equal(new[] { s[0], s[1], s[3], s[4] }, _store.ListFinishedSnapshots(group));

        await SnapshotProtection.SetAsync(_store, s[3], protect: true);
        var e = await Assert.ThrowsAsync<SnapshotProtectedException>(() => pruner.ForgetAsync(s[3]));
        Assert.Contains(s[3].ToString(), e.Message);
        Assert.True(_store.GetSnapshotInfo(s[3]).Finished);

        await Assert.ThrowsAsync<BackupFsException>(() => pruner.ForgetAsync(s[2]));
    }

    [Fact]
    public async Task RemovalDeletesInTheObjectStoreBeforeLocally()
    {
        var group = BackupGroup.Parse("host/prune-mirror");
        var s = await FiveSnapshots(group);
        var mirror = new RecordingMirror();
        var mirrored = new DataStore(_store.Root, new LocalChunkStore(_store.Root), mirror);
        bool presentAtDelete = false;
        mirror.OnCall = call => { if (call == $"delete-prefix {s[0].RelativePath}") presentAtDelete = mirrored.GetSnapshotInfo(s[0]).Finished; };

        await new Pruner(mirrored).ForgetAsync(s[0]);

        Assert.True(presentAtDelete);
        Assert.Equal(new[] { $"delete-prefix {s[0].RelativePath}" }, mirror.Calls);
        Assert.False(_store.SnapshotExists(s[0]));
    }

    [Fact]
    public async Task ObjectStoreFailureLeavesTheSnapshotListedAndARerunFinishes()
    {
        var group = BackupGroup.Parse("host/prune-fail");
        var s = await FiveSnapshots(group);
        var mirror = new RecordingMirror { Fail = true };
        var mirrored = new DataStore(_store.Root, new LocalChunkStore(_store.Root), mirror);

        var e = await Assert.ThrowsAsync<BackendException>(() => new Pruner(mirrored).PruneAsync(group, new KeepOptions(Last: 3)));
        Assert.Contains(s[0].ToString(), e.Message);
        Assert.Contains("run the command again", e.Message);
        Assert.Equal(s, _store.ListFinishedSnapshots(group));

        mirror.Fail = false;
        var result = await new Pruner(mirrored).PruneAsync(group, new KeepOptions(Last: 3));
        Assert.Equal(2, result.RemovedCount);
        Assert.Equal(s.Skip(2), _store.ListFinishedSnapshots(group));
    }

    [Fact]
    public async Task PruneRefusesWhileABackupOfTheGroupRuns()
    {
        var group = BackupGroup.Parse("host/prune-busy");
        await FiveSnapshots(group);
        await using var running = await BackupStarter.BeginAsync(_store, group, new BackupOptions { BackupTime = NextTime() });
        var e = await Assert.ThrowsAnyAsync<BackupFsException>(() => new Pruner(_store).PruneAsync(group, new KeepOptions(Last: 1)));
        Assert.Contains("locked", e.Message);
    }

    [Fact]
    public async Task UnknownGroupIsAClearError()
    {
        var e = await Assert.ThrowsAsync<BackupFsException>(() => new Pruner(_store).PruneAsync(BackupGroup.Parse("vm/404"), new KeepOptions(Last: 1)));
        Assert.Contains("does not exist", e.Message);
    }
}
