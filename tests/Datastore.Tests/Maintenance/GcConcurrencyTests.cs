using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Tests.TestSupport;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>
/// GC with a cutoff of 0 s running again and again while ten backups add snapshots. The backups
/// reuse chunks that are garbage with an old atime (left by forgotten snapshots), which is the
/// case where a careless sweep deletes a chunk a backup has just decided to rely on. Half of the
/// backups pause between storing their chunks and writing their index, so GC runs start (and
/// mark) while chunks they rely on are referenced by no index yet: only the writer registry's
/// cutoff keeps those.
/// </summary>
public class GcConcurrencyTests
{
    [Fact]
    public async Task TenBackupsDuringRepeatedGcLeaveEveryIndexResolvable()
    {
        using var tmp = new TempDir();
        var store = DataStore.CreateLocal(tmp.Sub("ds"));
        var shared = Pseudo(1_000_000, 1000);

        // Garbage: the shared data (which the backups will reuse) and data nobody reuses.
        var seed = BackupGroup.Parse("host/seed");
        var reused = await BackupAsync(store, seed, shared);
        var unused = await BackupAsync(store, seed, Pseudo(600_000, 1001));
        var reusedChunks = ChunksOf(store, reused);
        var unusedChunks = ChunksOf(store, unused);
        await new Pruner(store).ForgetAsync(reused);
        await new Pruner(store).ForgetAsync(unused);
        Age(store, reusedChunks.Concat(unusedChunks), TimeSpan.FromDays(3));

        var options = new GcOptions { AtimeCutoff = TimeSpan.Zero };
        int gcRuns = 0;
        using var backupsDone = new CancellationTokenSource();
        var gcLoop = Task.Run(async () =>
        {
            while (!backupsDone.IsCancellationRequested || gcRuns < 2)
            {
                await new GarbageCollector(store, options).RunAsync();
                gcRuns++;
            }
        });

        var backups = Enumerable.Range(0, 10).Select(n => Task.Run(async () =>
        {
            var group = BackupGroup.Parse($"host/client{n}");
            for (int round = 0; round < 3; round++)
            {
                var mine = Pseudo(150_000, n * 10 + round);
                var data = round % 2 == 0 ? shared.Concat(mine).ToArray() : mine.Concat(shared).ToArray();
                var pause = n % 2 == 0 ? TimeSpan.FromSeconds(2.5) : (TimeSpan?)null;
                await BackupAsync(store, group, data, 1_000_000 + round, pause: pause);
            }
        })).ToList();
        await Task.WhenAll(backups);
        backupsDone.Cancel();
        await gcLoop;
        Assert.True(gcRuns >= 2);

        // Every index of every snapshot resolves all of its chunks, and they decode.
        var report = await new Verifier(store, new VerifyOptions { RecordState = false }).VerifyAllAsync();
        Assert.Equal(30, report.Snapshots.Count);
        Assert.All(report.Snapshots, s =>
        {
            Assert.Equal(VerifyOutcome.Ok, s.Outcome);
            Assert.Equal(0, s.MissingChunks);
        });

        // A last GC with nobody running: garbage nobody reused is gone, nothing referenced is.
        var status = await new GarbageCollector(store, options).RunAsync();
        Assert.Equal(0, status.MissingChunks);
        Assert.All(unusedChunks.Except(reusedChunks), d => Assert.False(Exists(store, d)));
        foreach (var group in store.ListAllGroups())
            foreach (var snap in store.ListFinishedSnapshots(group))
                Assert.All(ChunksOf(store, snap), d => Assert.True(Exists(store, d)));
    }
}
