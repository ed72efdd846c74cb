using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.Writing;

/// <summary>Known chunks are touched beside the caller, and each one's task ends only after its touch (touches run in batches).</summary>
public class ChunkIngestTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>A backend whose touches (ContainsAsync) wait until released, and can fail.</summary>
    private sealed class GatedTouches : IChunkBackend
    {
        public readonly SemaphoreSlim Gate = new(0);
        public readonly List<Digest> Touched = [];
        public Digest? Failing;
        public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) => ValueTask.FromResult<byte[]?>(null);
        public async ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default)
        {
            await Gate.WaitAsync(ct);
            if (digest == Failing) throw new IOException("touch failed");
            lock (Touched) Touched.Add(digest);
            return true;
        }
        public ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default) =>
            ValueTask.FromResult(ChunkInsertResult.Inserted);
    }

    private static Digest D(int i) => Digest.Compute(BitConverter.GetBytes(i));

    [Fact]
    public async Task KnownChunksAreTouchedInOrderBesideTheCallerAndEachTaskWaitsForItsTouch()
    {
        var backend = new GatedTouches();
        var ingest = new ChunkIngest(backend);
        // Registering does not wait for the touches: the caller goes on encoding.
        var tasks = Enumerable.Range(0, 50).Select(i => ingest.RegisterKnownAsync(D(i), 100, default)).ToList();
        var again = ingest.RegisterKnownAsync(D(3), 100, default); // known this backup already: not touched twice
        Assert.True(again.IsCompletedSuccessfully);
        Assert.All(tasks, t => Assert.False(t.IsCompleted));

        backend.Gate.Release(49);
        ingest.FlushTouches(); // the last partial batch, as an archive completing does
        for (int i = 0; i < 200 && backend.Touched.Count < 49; i++) await Task.Delay(10);
        Assert.Equal(49, backend.Touched.Count); // touched while the caller did nothing
        Assert.False(tasks[49].IsCompleted); // the last one still waits for its touch
        backend.Gate.Release(1);
        var digests = await Task.WhenAll(tasks).WaitAsync(Bound);
        Assert.Equal(Enumerable.Range(0, 50).Select(D), digests);
        Assert.Equal(Enumerable.Range(0, 50).Select(D), backend.Touched);
        Assert.Equal(51, ingest.Stats.DuplicateChunks);
    }

    [Fact]
    public async Task AFailedTouchFailsTheChunkThatWaitsForIt()
    {
        var backend = new GatedTouches { Failing = D(1) };
        var ingest = new ChunkIngest(backend);
        var first = ingest.RegisterKnownAsync(D(0), 100, default);
        ingest.FlushTouches();
        backend.Gate.Release(1);
        Assert.Equal(D(0), await first.WaitAsync(Bound));
        var failing = ingest.RegisterKnownAsync(D(1), 100, default);
        ingest.FlushTouches();
        backend.Gate.Release(1);
        await Assert.ThrowsAsync<IOException>(() => failing.WaitAsync(Bound));
        // The toucher goes on for later chunks.
        var later = ingest.RegisterKnownAsync(D(2), 100, default);
        ingest.FlushTouches();
        backend.Gate.Release(1);
        Assert.Equal(D(2), await later.WaitAsync(Bound));
    }

    [Fact]
    public async Task ALocalStoreHasEveryKnownChunkTouchedWhenTheArchiveCompletes()
    {
        using var tmp = new TestSupport.TempDir();
        var store = DataStore.CreateLocal(System.IO.Path.Combine(tmp.Path, "ds"));
        var local = (LocalChunkStore)store.Chunks;
        var chunk = new byte[5000];
        Random.Shared.NextBytes(chunk);
        var digest = Digest.Compute(chunk);
        local.Insert(digest, DataBlob.Encode(chunk, compress: false));
        var path = local.ChunkPath(digest);
        var old = DateTime.UtcNow.AddDays(-3);
        File.SetLastAccessTimeUtc(path, old);
        var ingest = new ChunkIngest(store.Chunks);
        var known = ingest.RegisterKnownAsync(digest, chunk.Length, default);
        ingest.FlushTouches(); // as an archive completing does
        Assert.Equal(digest, await known.WaitAsync(Bound));
        Assert.True(File.GetLastAccessTimeUtc(path) > old.AddDays(2), "the known chunk was not touched");
    }
}
