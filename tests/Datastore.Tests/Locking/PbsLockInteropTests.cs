using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Writing;
using BackupFs.Datastore.Tests.TestSupport;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Locking;

/// <summary>Tests that change BACKUPFS_PBS_LOCK_DIR run alone: the variable is process-wide.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PbsLockEnvironment
{
    public const string Name = "PBS lock environment";
}

/// <summary>
/// BackupFs and a (simulated) PBS server on the same datastore exclude each other where two PBS
/// processes would: the process lock on .lock, and group, snapshot and manifest locks in PBS's
/// run directory (or, with PBS's old-locking marker, on the directories themselves).
/// </summary>
[Collection(PbsLockEnvironment.Name)]
public sealed class PbsLockInteropTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly DataStore _store;

    public PbsLockInteropTests() => _store = DataStore.CreateLocal(_tmp.Sub("store"));

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task GcIsRefusedWhileAPbsBackupHoldsTheSharedProcessLockAndRunsAfterwards()
    {
        using var pbs = new PbsStyleLocks(_tmp.Path);
        var backup = pbs.TryProcessLock(_store.Root, write: false);
        Assert.NotNull(backup);
        var e = await Assert.ThrowsAsync<LockBusyException>(() => new GarbageCollector(_store).RunAsync());
        Assert.Contains("another process", e.Message);
        Assert.False(File.Exists(Path.Combine(_store.Root, ".gc-status")));
        backup!.Dispose();
        await new GarbageCollector(_store).RunAsync();
        Assert.True(File.Exists(Path.Combine(_store.Root, ".gc-status")));
    }

    [Fact]
    public async Task APbsGcSeesARunningBackupFsBackupAsAWriter()
    {
        using var pbs = new PbsStyleLocks(_tmp.Path);
        await using (var writer = await BackupStarter.BeginAsync(_store, BackupGroup.Parse("host/w"), new BackupOptions { BackupTime = NextTime() }))
        {
            Assert.Null(pbs.TryProcessLock(_store.Root, write: true));
            // PBS backups share it meanwhile.
            using (var other = pbs.TryProcessLock(_store.Root, write: false)) Assert.NotNull(other);
            await writer.AddBlobAsync("a.conf.blob", "x"u8.ToArray());
            await writer.FinishAsync();
        }
        using var gc = pbs.TryProcessLock(_store.Root, write: true);
        Assert.NotNull(gc);
    }

    [Fact]
    public async Task ABackupIsRefusedWhileAPbsGcHoldsTheExclusiveProcessLock()
    {
        using var pbs = new PbsStyleLocks(_tmp.Path);
        using (var gc = pbs.TryProcessLock(_store.Root, write: true))
        {
            Assert.NotNull(gc);
            var e = await Assert.ThrowsAsync<LockBusyException>(() => BackupAsync(_store, BackupGroup.Parse("host/w"), Pseudo(1000, 1)));
            Assert.Contains("garbage collection", e.Message);
            Assert.False(_store.GroupExists(BackupGroup.Parse("host/w")));
        }
        await BackupAsync(_store, BackupGroup.Parse("host/w"), Pseudo(1000, 1));
    }

    [Fact]
    public async Task BackupFsGcBesideItsOwnBackupKeepsWhatTheBackupMayUse()
    {
        // Same process: PBS's ProcessLocker lets GC run beside this process's backups and bounds the cutoff by the oldest.
        await using var writer = await BackupStarter.BeginAsync(_store, BackupGroup.Parse("host/w"), new BackupOptions { BackupTime = NextTime() });
        var status = await new GarbageCollector(_store, new GcOptions { AtimeCutoff = TimeSpan.Zero }).RunAsync();
        Assert.Equal(DatastoreProcessLock.OldestShared(_store), status.Cutoff.OldestWriter);
        using var pbs = new PbsStyleLocks(_tmp.Path);
        Assert.Null(pbs.TryProcessLock(_store.Root, write: true)); // the backup still holds it shared
    }

    [Theory]
    [InlineData(false, "")]
    [InlineData(false, "team/sub")]
    [InlineData(true, "")]
    public async Task ABackupIntoAGroupPbsHoldsFailsClearly(bool oldLocking, string ns)
    {
        using var pbs = new PbsStyleLocks(_tmp.Path, oldLocking);
        var nsRef = BackupNamespace.Parse(ns);
        foreach (var level in Enumerable.Range(1, nsRef.Depth))
            await _store.CreateNamespaceAsync(BackupNamespace.FromComponents(nsRef.Components.Take(level)));
        var group = BackupGroup.Parse("host/web1", nsRef);
        await BackupAsync(_store, group, Pseudo(1000, 2));
        using (var held = pbs.TryGroupLock(_store.Root, _store.Name, ns, "host/web1"))
        {
            Assert.NotNull(held);
            var e = await Assert.ThrowsAsync<LockBusyException>(() => BackupAsync(_store, group, Pseudo(1000, 3)));
            Assert.Contains("group", e.Message);
            Assert.Contains("locked", e.Message);
            await Assert.ThrowsAsync<LockBusyException>(() => new Pruner(_store).PruneAsync(group, new KeepOptions(Last: 1)));
            // The process lock was given back: a GC can run.
            await new GarbageCollector(_store).RunAsync();
        }
        await BackupAsync(_store, group, Pseudo(1000, 3));
        Assert.Equal(2, _store.ListSnapshots(group).Count);
    }

    [Fact]
    public async Task PbsCannotLockAGroupOrSnapshotWhileBackupFsWritesIt()
    {
        using var pbs = new PbsStyleLocks(_tmp.Path);
        var group = BackupGroup.Parse("vm/100");
        await using var writer = await BackupStarter.BeginAsync(_store, group, new BackupOptions { BackupTime = NextTime() });
        Assert.Null(pbs.TryGroupLock(_store.Root, _store.Name, "", "vm/100"));
        Assert.Null(pbs.TrySnapshotLock(_store.Root, _store.Name, "", writer.Snapshot.RelativePath, exclusive: false));
        Assert.True(File.Exists(pbs.LockFile(_store.Name, "", "vm/100")));
    }

    [Fact]
    public async Task ForgetAndVerifyRespectPbsSnapshotLocks()
    {
        using var pbs = new PbsStyleLocks(_tmp.Path);
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/r"), Pseudo(5000, 4));
        using (var reader = pbs.TrySnapshotLock(_store.Root, _store.Name, "", "host/r/" + snap.TimeName, exclusive: false))
        {
            Assert.NotNull(reader); // a PBS restore or verify holds it shared
            await Assert.ThrowsAsync<LockBusyException>(() => new Pruner(_store).ForgetAsync(snap));
            var report = await new Verifier(_store).VerifySnapshotsAsync([snap]); // shared with PBS's reader
            Assert.Equal(VerifyOutcome.Ok, report.Snapshots.Single().Outcome);
        }
        using (var remover = pbs.TrySnapshotLock(_store.Root, _store.Name, "", "host/r/" + snap.TimeName, exclusive: true))
        {
            var report = await new Verifier(_store).VerifySnapshotsAsync([snap]);
            Assert.Equal(VerifyOutcome.Skipped, report.Snapshots.Single().Outcome);
        }
        await new Pruner(_store).ForgetAsync(snap);
        Assert.False(File.Exists(pbs.LockFile(_store.Name, "", "host/r/" + snap.TimeName)));
    }

    [Fact]
    public async Task AManifestRewriteWaitsForPbsManifestLockUpToFiveSeconds()
    {
        using var pbs = new PbsStyleLocks(_tmp.Path);
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/m"), Pseudo(5000, 5));
        var held = pbs.TryManifestLock(_store.Name, "", "host/m/" + snap.TimeName);
        Assert.NotNull(held);
        _ = Task.Delay(1000).ContinueWith(_ => held!.Dispose());
        var started = DateTime.UtcNow;
        await ManifestUpdater.UpdateAsync(_store, snap, m => { });
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(5));

        using var again = pbs.TryManifestLock(_store.Name, "", "host/m/" + snap.TimeName);
        var e = await Assert.ThrowsAsync<LockBusyException>(() => ManifestUpdater.UpdateAsync(_store, snap, m => { }));
        Assert.Contains("manifest", e.Message);
    }

    [Fact]
    public async Task LocksUseThePbsDatastoreNameFromItsConfig()
    {
        using var pbs = new PbsStyleLocks(_tmp.Path);
        var cfg = _tmp.Sub("datastore.cfg");
        File.WriteAllText(cfg, $"datastore: main\n\tpath {_store.Root}\n");
        Environment.SetEnvironmentVariable(PbsDatastoreName.ConfigVariable, cfg);
        try
        {
            await using var writer = await BackupStarter.BeginAsync(_store, BackupGroup.Parse("ct/7"), new BackupOptions { BackupTime = NextTime() });
            Assert.Null(pbs.TryGroupLock(_store.Root, "main", "", "ct/7"));
        }
        finally { Environment.SetEnvironmentVariable(PbsDatastoreName.ConfigVariable, null); }
    }

    [Fact]
    public async Task WithoutPbsOnTheHostTheDirectoriesAreLocked()
    {
        // No run directory: BackupFs flocks the directories (PBS's old mode), and finds its own locks there.
        Environment.SetEnvironmentVariable(PbsLockLayout.LockRootVariable, _tmp.Sub("no-pbs/locks"));
        try
        {
            Assert.Equal(PbsLockMode.NoPbs, PbsLockLayout.Mode);
            var group = BackupGroup.Parse("host/d");
            await BackupAsync(_store, group, Pseudo(1000, 6));
            using var held = DatastoreLocks.LockGroup(_store, group);
            await Assert.ThrowsAsync<LockBusyException>(() => BackupAsync(_store, group, Pseudo(1000, 7)));
            Assert.False(Directory.Exists(_tmp.Sub("no-pbs")));
        }
        finally { Environment.SetEnvironmentVariable(PbsLockLayout.LockRootVariable, null); }
    }
}
