using System.Text.Json;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

public class GarbageCollectorTests : IClassFixture<TempStore>
{
    private static readonly GcOptions CutoffZero = new() { AtimeCutoff = TimeSpan.Zero };
    private readonly DataStore _store;

    public GarbageCollectorTests(TempStore fixture) => _store = fixture.Store;

    private Digest InsertLooseChunk(int seed)
    {
        var data = Pseudo(5000, seed);
        var digest = Digest.Compute(data);
        Chunks(_store).Insert(digest, DataBlob.Encode(data));
        return digest;
    }

    [Fact]
    public async Task RemovesOldUnreferencedChunksKeepsReferencedAndCountsPending()
    {
        using var tmp = new TempDir();
        var store = DataStore.CreateLocal(tmp.Sub("ds"));
        var group = BackupGroup.Parse("host/gc");
        var a = Pseudo(700_000, 11);
        var snapA = await BackupAsync(store, group, a);
        var snapOld = await BackupAsync(store, group, Pseudo(500_000, 12));
        var snapYoung = await BackupAsync(store, group, Pseudo(300_000, 13));
        var (inUse, old, young) = (ChunksOf(store, snapA), ChunksOf(store, snapOld), ChunksOf(store, snapYoung));
        long oldBytes = old.Sum(d => new FileInfo(Chunks(store).ChunkPath(d)).Length);
        long youngBytes = young.Sum(d => new FileInfo(Chunks(store).ChunkPath(d)).Length);
        var pruner = new Pruner(store);
        await pruner.ForgetAsync(snapOld);
        await pruner.ForgetAsync(snapYoung);
        Age(store, inUse, TimeSpan.FromDays(3));
        Age(store, old, TimeSpan.FromDays(2));
        Age(store, young, TimeSpan.FromHours(1));

        var status = await new GarbageCollector(store).RunAsync();

        Assert.All(inUse, d => Assert.True(Exists(store, d)));
        Assert.All(old, d => Assert.False(Exists(store, d)));
        Assert.All(young, d => Assert.True(Exists(store, d)));
        Assert.Equal(1, status.IndexFileCount);
        Assert.Equal(a.Length, status.IndexDataBytes);
        Assert.Equal(inUse.Count, status.DiskChunks);
        Assert.Equal(old.Count, status.RemovedChunks);
        Assert.Equal(oldBytes, status.RemovedBytes);
        Assert.Equal(young.Count, status.PendingChunks);
        Assert.Equal(youngBytes, status.PendingBytes);
        Assert.Equal(0, status.MissingChunks);
        Assert.Equal(status.Cutoff.Phase1Start - 86_700, status.Cutoff.MinAtime);

        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(store.Root, ".gc-status")));
        Assert.Equal(new[] { "upid", "index-file-count", "index-data-bytes", "disk-bytes", "disk-chunks", "removed-bytes", "removed-chunks",
                "pending-bytes", "pending-chunks", "removed-bad", "still-bad", "cache-stats" },
            json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.StartsWith("UPID:", json.RootElement.GetProperty("upid").GetString());
        Assert.Equal(old.Count, json.RootElement.GetProperty("removed-chunks").GetInt64());
        Assert.Equal(young.Count, json.RootElement.GetProperty("pending-chunks").GetInt64());
        Assert.Equal(inUse.Count, json.RootElement.GetProperty("disk-chunks").GetInt64());
        Assert.Equal(status.CacheMisses, json.RootElement.GetProperty("cache-stats").GetProperty("misses").GetInt64());
        Assert.Equal(old.Count, GcStatusFile.TryRead(store)!["removed-chunks"].GetInt64());
    }

    [Fact]
    public async Task ARunningBackupKeepsChunksItMayReferenceEvenWithCutoffZero()
    {
        var chunk = InsertLooseChunk(21);
        File.SetLastAccessTimeUtc(Chunks(_store).ChunkPath(chunk), DateTime.UtcNow.AddSeconds(-100));

        using (DatastoreProcessLock.AcquireShared(_store, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 10))
        {
            var status = await new GarbageCollector(_store, CutoffZero).RunAsync();
            Assert.True(Exists(_store, chunk));
            Assert.True(status.PendingChunks >= 1);
            Assert.Equal(status.Cutoff.OldestWriter - 300, status.Cutoff.MinAtime);
        }

        await new GarbageCollector(_store, CutoffZero).RunAsync();
        Assert.False(Exists(_store, chunk));
    }

    [Fact]
    public async Task MissingChunksAreReportedNotFatalAndTheirBadCopiesKept()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/gc-missing"), Pseudo(300_000, 31));
        var victim = ChunksOf(_store, snap).First();
        var path = Chunks(_store).ChunkPath(victim);
        File.Move(path, path + ".0.bad");
        File.SetLastAccessTimeUtc(path + ".0.bad", DateTime.UtcNow.AddDays(-3));

        var status = await new GarbageCollector(_store).RunAsync();

        Assert.Equal(1, status.MissingChunks);
        var sample = Assert.Single(status.MissingSamples);
        Assert.Equal(victim, sample.Digest);
        Assert.EndsWith("root.pxar.didx", sample.IndexPath);
        Assert.True(File.Exists(path + ".0.bad"));
        await new Pruner(_store).ForgetAsync(snap);
        File.Delete(path + ".0.bad");
    }

    [Fact]
    public async Task OldBadFilesAndTempLeftoversAreSweptYoungTempFilesKept()
    {
        var bad = InsertLooseChunk(41);
        var badPath = Chunks(_store).ChunkPath(bad);
        File.Move(badPath, badPath + ".3.bad");
        File.SetLastAccessTimeUtc(badPath + ".3.bad", DateTime.UtcNow.AddDays(-3));
        var oldTemp = Chunks(_store).ChunkPath(InsertLooseChunk(42)) + ".tmp_0abc12";
        File.WriteAllBytes(oldTemp, new byte[10]);
        File.SetLastWriteTimeUtc(oldTemp, DateTime.UtcNow.AddDays(-3));
        File.SetLastAccessTimeUtc(oldTemp, DateTime.UtcNow.AddDays(-3));
        var youngTemp = Chunks(_store).ChunkPath(InsertLooseChunk(43)) + ".tmp_0def34";
        File.WriteAllBytes(youngTemp, new byte[10]);

        var status = await new GarbageCollector(_store).RunAsync();

        Assert.False(File.Exists(badPath + ".3.bad"));
        Assert.True(status.RemovedBad >= 1);
        Assert.False(File.Exists(oldTemp));
        Assert.True(File.Exists(youngTemp));
        Assert.True(status.RemovedTempFiles >= 1);
        File.Delete(youngTemp);
    }

    [Fact]
    public async Task AnUnreadableIndexStopsGcBeforeAnythingIsRemoved()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/gc-broken"), Pseudo(50_000, 51));
        var broken = Path.Combine(_store.FullPath(snap.RelativePath), "broken.pxar.didx");
        File.WriteAllBytes(broken, new byte[5000]);
        var garbage = InsertLooseChunk(52);
        Age(_store, [garbage], TimeSpan.FromDays(3));

        var e = await Assert.ThrowsAsync<FormatCorruptException>(() => new GarbageCollector(_store).RunAsync());

        Assert.Contains("broken.pxar.didx", e.Message);
        Assert.Contains("before removing anything", e.Message);
        Assert.True(Exists(_store, garbage));
        File.Delete(broken);
        await new GarbageCollector(_store).RunAsync();
        Assert.False(Exists(_store, garbage));
    }

    [Fact]
    public async Task IndexFilesOutsideTheLayoutAreMarkedToo()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/gc-stray"), Pseudo(200_000, 61));
        var chunks = ChunksOf(_store, snap);
        var strayDir = Path.Combine(_store.Root, "host", "gc-stray", "not-a-snapshot");
        Directory.CreateDirectory(strayDir);
        File.Copy(Path.Combine(_store.FullPath(snap.RelativePath), "root.pxar.didx"), Path.Combine(strayDir, "copy.didx"));
        await new Pruner(_store).ForgetAsync(snap);
        Age(_store, chunks, TimeSpan.FromDays(3));

        var status = await new GarbageCollector(_store).RunAsync();

        Assert.Equal(1, status.StrayIndexFiles);
        Assert.All(chunks, d => Assert.True(Exists(_store, d)));
        Directory.Delete(strayDir, recursive: true);
    }

    [Fact]
    public async Task AChunkLeftInQuarantineByACrashedGcIsRestoredWhenInUse()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/gc-quarantine"), Pseudo(100_000, 71));
        var digest = ChunksOf(_store, snap).First();
        var path = Chunks(_store).ChunkPath(digest);
        File.Move(path, path + LocalChunkSweeper.QuarantineSuffix);

        await new GarbageCollector(_store).RunAsync();

        Assert.True(File.Exists(path));
        Assert.False(File.Exists(path + LocalChunkSweeper.QuarantineSuffix));
    }

    [Fact]
    public async Task OnlyOneGcRunsAtATime()
    {
        using var held = DatastoreProcessLock.AcquireExclusive(_store);
        var e = await Assert.ThrowsAsync<LockBusyException>(() => new GarbageCollector(_store).RunAsync());
        Assert.Contains("garbage collection", e.Message);
    }

    [Fact]
    public async Task ProgressIsReportedForBothPhases()
    {
        var reports = new List<MaintenanceProgress>();
        var progress = new SynchronousProgress<MaintenanceProgress>(reports.Add);
        await new GarbageCollector(_store, new GcOptions { Progress = progress }).RunAsync();
        var mark = reports.Last(r => r.Phase == "gc-mark");
        var sweep = reports.Last(r => r.Phase == "gc-sweep");
        Assert.True(mark.Completed);
        Assert.Equal(mark.TotalItems, mark.Items);
        Assert.True(sweep.Completed);
        Assert.Equal(65536, sweep.Items);
        Assert.Equal(1.0, sweep.Fraction);
    }
}

/// <summary>IProgress that calls back on the reporting thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    private readonly object _gate = new();
    public void Report(T value) { lock (_gate) report(value); }
}
