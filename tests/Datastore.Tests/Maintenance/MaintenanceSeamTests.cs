using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>How GC and verify drive their backend seams (what an S3 backend gets called with).</summary>
public class MaintenanceSeamTests : IClassFixture<TempStore>
{
    private readonly DataStore _store;

    public MaintenanceSeamTests(TempStore fixture) => _store = fixture.Store;

    private sealed class FakeGcBackend : IGcBackend
    {
        public List<Digest> Marked { get; } = new();
        public bool? PreparedWithAtimeCheck { get; private set; }
        public GcSweepContext? Swept { get; private set; }
        public HashSet<Digest> Absent { get; } = new();
        public bool FailSweep { get; init; }

        public string Description => "fake";
        public ValueTask PrepareAsync(bool atimeSafetyCheck, CancellationToken ct) { PreparedWithAtimeCheck = atimeSafetyCheck; return ValueTask.CompletedTask; }
        public ChunkMarkResult MarkChunk(Digest digest)
        {
            Marked.Add(digest);
            return Absent.Contains(digest) ? ChunkMarkResult.Missing : ChunkMarkResult.Expected;
        }
        public Task SweepAsync(GcSweepContext context, CancellationToken ct)
        {
            Swept = context;
            if (FailSweep) throw new BackendException("bucket unreachable (test)");
            context.Status.CountSwept(context.Cutoff.Classify(context.Cutoff.MinAtime - 1), 100, bad: false);
            context.Status.CountSwept(context.Cutoff.Classify(context.Cutoff.Phase1Start), 50, bad: false);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task GcMarksEachDistinctChunkOnceThenSweepsWithTheCutoff()
    {
        var data = Pseudo(300_000, 1);
        var group = BackupGroup.Parse("host/seam");
        var a = await BackupAsync(_store, group, data);
        await BackupAsync(_store, group, data);
        var backend = new FakeGcBackend();
        backend.Absent.Add(ChunksOf(_store, a).First());

        var status = await new GarbageCollector(_store, new GcOptions { Backend = backend, AtimeSafetyCheck = false }).RunAsync();

        Assert.False(backend.PreparedWithAtimeCheck);
        var all = _store.ListAllGroups().SelectMany(g => _store.ListSnapshots(g)).SelectMany(s => ChunksOf(_store, s.Snapshot)).ToHashSet();
        Assert.Equal(all.Count, backend.Marked.Count);
        Assert.Equal(all, backend.Marked.ToHashSet());
        Assert.Equal(1, status.MissingChunks);
        Assert.Same(status, backend.Swept!.Status);
        Assert.Equal(status.Cutoff, backend.Swept.Cutoff);
        Assert.Equal(1, status.RemovedChunks);
        Assert.Equal(100, status.RemovedBytes);
        Assert.Equal(1, status.DiskChunks);
    }

    [Fact]
    public async Task ASweepFailureFailsTheRunWithTheBackendError()
    {
        var backend = new FakeGcBackend { FailSweep = true };
        var e = await Assert.ThrowsAsync<BackendException>(() => new GarbageCollector(_store, new GcOptions { Backend = backend }).RunAsync());
        Assert.Contains("bucket unreachable", e.Message);
        // The GC lock is released: a rerun can start.
        using var again = DatastoreProcessLock.AcquireExclusive(_store);
    }

    private sealed class ProvidingBackend : IChunkBackend, IMaintenanceBackendProvider
    {
        public readonly FakeGcBackend Gc = new();
        public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) => ValueTask.FromResult<byte[]?>(null);
        public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default) => ValueTask.FromResult(false);
        public ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default) => ValueTask.FromResult(ChunkInsertResult.Inserted);
        public IGcBackend CreateGcBackend(DataStore store) => Gc;
        public IVerifyBackend CreateVerifyBackend(DataStore store) => new LocalVerifyBackend(new LocalChunkStore(store.Root));
    }

    [Fact]
    public void BackendsAreChosenFromTheStoresChunkBackend()
    {
        Assert.IsType<LocalGcBackend>(MaintenanceBackends.ForGc(_store));
        Assert.IsType<LocalVerifyBackend>(MaintenanceBackends.ForVerify(_store));
        var provider = new ProvidingBackend();
        var s3Like = new DataStore(_store.Root, provider);
        Assert.Same(provider.Gc, MaintenanceBackends.ForGc(s3Like));
    }

    [Fact]
    public async Task ASnapshotBeingVerifiedCannotBeRemoved()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/seam-lock"), Pseudo(20_000, 2));
        using (DatastoreLocks.LockSnapshot(_store, snap, exclusive: false))
        {
            var e = await Assert.ThrowsAnyAsync<BackupFsException>(() => new Pruner(_store).ForgetAsync(snap));
            Assert.Contains("locked", e.Message);
            Assert.True(_store.GetSnapshotInfo(snap).Finished);
        }
        await new Pruner(_store).ForgetAsync(snap);
        Assert.False(_store.SnapshotExists(snap));
    }

    [Fact]
    public void ProgressComputesRatesAndEta()
    {
        var p = new MaintenanceProgress("verify", 25, 100, 1000, TimeSpan.FromSeconds(5), false);
        Assert.Equal(5, p.ItemsPerSecond);
        Assert.Equal(200, p.BytesPerSecond);
        Assert.Equal(0.25, p.Fraction);
        Assert.Equal(TimeSpan.FromSeconds(15), p.Eta);
        Assert.Null((p with { TotalItems = null }).Eta);
        Assert.Null((p with { Items = 0 }).Eta);

        var reports = new List<MaintenanceProgress>();
        var meter = new ProgressMeter(new SynchronousProgress<MaintenanceProgress>(reports.Add), "x", 3, TimeSpan.Zero);
        meter.Add(1, 10); meter.Add(2, 20); meter.Complete();
        Assert.Equal(new long[] { 1, 3, 3 }, reports.Select(r => r.Items));
        Assert.True(reports[^1].Completed);
        Assert.Equal(30, reports[^1].Bytes);
    }
}
