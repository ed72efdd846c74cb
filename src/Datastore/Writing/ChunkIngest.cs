using System.Buffers;
using System.Collections.Concurrent;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// Takes cut chunks from archive writers and stores them: hash, skip what the store already
/// has (no compression, no upload), else encode and insert. Chunks are processed in parallel
/// with a bounded number in flight, so memory stays bounded while both cores work.
/// With an encryption key (crypt-mode encrypt) chunks are named SHA-256(plain ‖ id_key) and stored
/// as encrypted blobs, as PBS's client uploads them.
/// </summary>
public sealed class ChunkIngest
{
    private readonly IChunkBackend _backend;
    private readonly SemaphoreSlim _inFlight;
    private readonly ConcurrentDictionary<Digest, byte> _knownThisBackup = new();
    private readonly bool _compress;
    private readonly CryptKey? _key;

    public ChunkIngestStats Stats { get; } = new();

    public ChunkIngest(IChunkBackend backend, int maxInFlight = 0, bool compress = true, CryptKey? encryptKey = null)
    {
        _backend = backend;
        _compress = compress;
        _key = encryptKey;
        _inFlight = new SemaphoreSlim(maxInFlight > 0 ? maxInFlight : Math.Max(4, Environment.ProcessorCount * 2));
    }

    /// <summary>
    /// Queues one chunk. Takes ownership of <paramref name="rented"/> (an ArrayPool buffer) and
    /// returns it to the pool when done. Waits while too many chunks are in flight.
    /// </summary>
    public async Task<Task<Digest>> SubmitAsync(byte[] rented, int length, CancellationToken ct)
    {
        await _inFlight.WaitAsync(ct).ConfigureAwait(false);
        return Task.Run(async () =>
        {
            try { return await StoreAsync(rented.AsMemory(0, length), ct).ConfigureAwait(false); }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
                _inFlight.Release();
            }
        }, ct);
    }

    /// <summary>
    /// A chunk reused from a previous snapshot without reading it: like PBS's known-chunk
    /// registration, refresh its access time (ContainsAsync touches), so a garbage collection
    /// running meanwhile keeps it. The answer is not trusted either way: an S3 cache may simply
    /// not know a chunk the bucket has.
    /// </summary>
    /// <remarks>
    /// The touches run in order, in batches, on one background task beside the caller (which goes on
    /// encoding): the returned task completes once this chunk is touched (a partial batch waits for
    /// <see cref="FlushTouches"/>), and an archive is complete only when all its chunks' tasks are, so
    /// every touch still precedes the index and the manifest.
    /// </remarks>
    public Task<Digest> RegisterKnownAsync(Digest digest, long size, CancellationToken ct)
    {
        Stats.AddChunk(size);
        Stats.AddDuplicate(size);
        if (!_knownThisBackup.TryAdd(digest, 0)) return Task.FromResult(digest);
        return AfterAsync(EnqueueTouch(digest, ct), digest);

        static async Task<Digest> AfterAsync(Task touched, Digest digest)
        {
            await touched.ConfigureAwait(false);
            return digest;
        }
    }

    private readonly Lock _touchSync = new();
    private List<Digest> _touchBatch = new();
    private TaskCompletionSource? _touchBatchDone; // completes when every digest of _touchBatch is touched
    private bool _touching;

    /// <summary>Adds the chunk to the next batch of touches (starting the toucher if idle); the task completes when that batch is done.</summary>
    private Task EnqueueTouch(Digest digest, CancellationToken ct)
    {
        lock (_touchSync)
        {
            _touchToken = ct;
            _touchBatch.Add(digest);
            _touchBatchDone ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var done = _touchBatchDone.Task;
            // In batches: a toucher started per chunk cost more in thread wake-ups than the touches themselves.
            if (_touchBatch.Count >= TouchBatchSize) StartToucher();
            return done;
        }
    }

    private const int TouchBatchSize = 64;
    private CancellationToken _touchToken; // the registering writer's (one per backup)

    /// <summary>Touches the known chunks registered so far that wait for a fuller batch (an archive completing calls this).</summary>
    public void FlushTouches()
    {
        lock (_touchSync) if (_touchBatch.Count > 0) StartToucher();
    }

    /// <summary>Under the lock: starts the toucher unless it runs (it takes every batch queued meanwhile).</summary>
    private void StartToucher()
    {
        if (_touching) return;
        _touching = true;
        var ct = _touchToken;
        _ = Task.Run(() => TouchBatchesAsync(ct), CancellationToken.None);
    }

    private async Task TouchBatchesAsync(CancellationToken ct)
    {
        while (true)
        {
            List<Digest> batch;
            TaskCompletionSource done;
            lock (_touchSync)
            {
                if (_touchBatch.Count == 0)
                {
                    _touching = false;
                    return;
                }
                (batch, done) = (_touchBatch, _touchBatchDone!);
                (_touchBatch, _touchBatchDone) = (new List<Digest>(), null);
            }
            try
            {
                // The answer is not trusted either way (see RegisterKnownAsync): only the touch counts.
                foreach (var digest in batch)
                {
                    ct.ThrowIfCancellationRequested();
                    await _backend.ContainsAsync(digest, ct).ConfigureAwait(false);
                }
                done.TrySetResult();
            }
            catch (OperationCanceledException e) { done.TrySetCanceled(e.CancellationToken); }
            catch (Exception e) { done.TrySetException(e); }
        }
    }

    /// <summary>
    /// Whether the store still holds every chunk of <paramref name="digests"/> (each is touched, as a
    /// known chunk is, so a garbage collection running meanwhile keeps it). Chunks stored ahead of a
    /// backup are referenced only when this is true: one swept since, or one an S3 cache does not
    /// know, makes the caller encode the data again instead.
    /// </summary>
    public async Task<bool> HoldsAllAsync(IEnumerable<Digest> digests, CancellationToken ct)
    {
        var confirmed = new List<Digest>();
        foreach (var digest in digests)
        {
            if (_knownThisBackup.ContainsKey(digest)) continue;
            if (!await _backend.ContainsAsync(digest, ct).ConfigureAwait(false)) return false;
            confirmed.Add(digest);
        }
        foreach (var digest in confirmed) _knownThisBackup.TryAdd(digest, 0);
        return true;
    }

    /// <summary>Stores one chunk now (used for small pieces and by tests).</summary>
    public async Task<Digest> StoreAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var digest = _key is null ? Digest.Compute(data.Span) : _key.ComputeDigest(data.Span);
        Stats.AddChunk(data.Length);
        if (!_knownThisBackup.TryAdd(digest, 0) || await _backend.ContainsAsync(digest, ct).ConfigureAwait(false))
        {
            Stats.AddDuplicate(data.Length);
            return digest;
        }
        // Encode into a pooled buffer: a new 4 MiB array per chunk kept the GC's large object heap churning.
        var buffer = ArrayPool<byte>.Shared.Rent(DataBlob.EncryptedHeaderSize + data.Length);
        try
        {
            int length = _key is null ? DataBlob.EncodeTo(data.Span, _compress, buffer) : EncryptedBlob.EncodeTo(_key, data.Span, _compress, buffer);
            var result = await _backend.InsertAsync(digest, buffer.AsMemory(0, length), ct).ConfigureAwait(false);
            if (result == ChunkInsertResult.Inserted) Stats.AddInserted(length);
            else Stats.AddDuplicate(data.Length);
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        return digest;
    }
}

/// <summary>Counters of one backup's chunk traffic (thread-safe).</summary>
public sealed class ChunkIngestStats
{
    private long _chunks, _bytes, _duplicates, _duplicateBytes, _inserted, _insertedBytes;
    public long Chunks => Interlocked.Read(ref _chunks);
    public long Bytes => Interlocked.Read(ref _bytes);
    public long DuplicateChunks => Interlocked.Read(ref _duplicates);
    public long DuplicateBytes => Interlocked.Read(ref _duplicateBytes);
    public long InsertedChunks => Interlocked.Read(ref _inserted);
    /// <summary>Encoded (stored) bytes of newly inserted chunks.</summary>
    public long InsertedBytes => Interlocked.Read(ref _insertedBytes);

    internal void AddChunk(long bytes) { Interlocked.Increment(ref _chunks); Interlocked.Add(ref _bytes, bytes); }
    internal void AddDuplicate(long bytes) { Interlocked.Increment(ref _duplicates); Interlocked.Add(ref _duplicateBytes, bytes); }
    internal void AddInserted(long encoded) { Interlocked.Increment(ref _inserted); Interlocked.Add(ref _insertedBytes, encoded); }
}
