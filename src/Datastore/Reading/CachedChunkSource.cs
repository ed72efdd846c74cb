using System.Collections.Concurrent;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// A size-bounded LRU of decoded chunks shared by every reader, so two readers of the same file
/// (or of two snapshots sharing chunks) never decode a chunk twice, and concurrent requests for
/// one digest share a single load. Entries are reference-counted pooled buffers, so eviction is
/// exact and synchronous (a general-purpose cache with background compaction could not hand the
/// arrays back to the pool safely).
/// </summary>
public sealed class CachedChunkSource : IChunkSource, IDisposable
{
    private readonly IChunkSource _inner;
    private readonly long _capacity;
    private readonly object _lock = new();
    private readonly Dictionary<Digest, LinkedListNode<(Digest Digest, ChunkBuffer Buffer)>> _map = new();
    private readonly LinkedList<(Digest Digest, ChunkBuffer Buffer)> _lru = new();
    private readonly ConcurrentDictionary<Digest, Task<ChunkBuffer>> _loading = new();
    private long _size;
    private long _hits, _misses;
    private bool _disposed;

    /// <summary>The most decoded bytes kept (readahead stays within half of it).</summary>
    public long Capacity => _capacity;

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public long CachedBytes { get { lock (_lock) return _size; } }

    public CachedChunkSource(IChunkSource inner, long capacityBytes = 128L * 1024 * 1024)
    {
        _inner = inner;
        _capacity = Math.Max(capacityBytes, 1);
    }

    public ValueTask<ChunkBuffer> ReadChunkAsync(Digest digest, CancellationToken ct = default)
    {
        if (TryGetCached(digest, out var hit))
        {
            Interlocked.Increment(ref _hits);
            return ValueTask.FromResult(hit);
        }
        return new ValueTask<ChunkBuffer>(WaitForLoadAsync(digest, ct));
    }

    /// <summary>Starts loading a chunk in the background (readahead); errors surface on the real read.</summary>
    public void Prefetch(Digest digest)
    {
        if (IsCached(digest) || Volatile.Read(ref _disposed)) return;
        _ = LoadShared(digest).ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    public bool IsCached(Digest digest)
    {
        lock (_lock) return _map.ContainsKey(digest);
    }

    private bool TryGetCached(Digest digest, out ChunkBuffer buffer)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(digest, out var node) && node.Value.Buffer.TryAddRef())
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                buffer = node.Value.Buffer;
                return true;
            }
        }
        buffer = null!;
        return false;
    }

    private async Task<ChunkBuffer> WaitForLoadAsync(Digest digest, CancellationToken ct)
    {
        while (true)
        {
            var loaded = await LoadShared(digest).WaitAsync(ct).ConfigureAwait(false);
            if (loaded.TryAddRef()) return loaded;
            // Evicted and released between the load and this reader: load it again.
            if (TryGetCached(digest, out var again)) return again;
            if (Volatile.Read(ref _disposed)) throw new ObjectDisposedException(nameof(CachedChunkSource));
        }
    }

    private Task<ChunkBuffer> LoadShared(Digest digest)
    {
        if (_loading.TryGetValue(digest, out var running)) return running;
        var tcs = new TaskCompletionSource<ChunkBuffer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _loading.GetOrAdd(digest, tcs.Task);
        if (shared != tcs.Task) return shared;
        Interlocked.Increment(ref _misses);
        _ = Task.Run(async () =>
        {
            try
            {
                // Not cancellable: other readers may be waiting for the same chunk.
                var buffer = await _inner.ReadChunkAsync(digest, CancellationToken.None).ConfigureAwait(false);
                Insert(digest, buffer);   // the cache's reference is the one the source handed over
                tcs.SetResult(buffer);
            }
            catch (Exception e) { tcs.SetException(e); }
            finally { _loading.TryRemove(digest, out _); }
        });
        return tcs.Task;
    }

    private void Insert(Digest digest, ChunkBuffer buffer)
    {
        var evicted = new List<ChunkBuffer>();
        lock (_lock)
        {
            // A load still running when the cache was disposed (readahead at unmount): drop its data.
            if (_disposed) evicted.Add(buffer);
            else if (_map.Remove(digest, out var old))
            {
                _lru.Remove(old);
                _size -= old.Value.Buffer.Capacity;
                evicted.Add(old.Value.Buffer);
            }
            if (!_disposed)
            {
                _map[digest] = _lru.AddFirst((digest, buffer));
                _size += buffer.Capacity;
            }
            while (_size > _capacity && _lru.Count > 1)
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _map.Remove(last.Value.Digest);
                _size -= last.Value.Buffer.Capacity;
                evicted.Add(last.Value.Buffer);
            }
        }
        foreach (var b in evicted) b.Release();
    }

    public void Dispose()
    {
        List<ChunkBuffer> all;
        lock (_lock)
        {
            _disposed = true;
            all = _lru.Select(e => e.Buffer).ToList();
            _lru.Clear();
            _map.Clear();
            _size = 0;
        }
        foreach (var b in all) b.Release();
    }
}
