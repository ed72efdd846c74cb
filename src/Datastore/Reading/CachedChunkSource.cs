using System.Collections.Concurrent;
using BackupFs.Datastore.Formats;
using Microsoft.Extensions.Caching.Memory;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// A size-bounded in-memory cache of decoded chunks shared by every reader, so two readers of
/// the same file (or of two snapshots sharing chunks) never decode a chunk twice. Concurrent
/// requests for one digest share a single load.
/// </summary>
public sealed class CachedChunkSource : IChunkSource, IDisposable
{
    private readonly IChunkSource _inner;
    private readonly MemoryCache _cache;
    private readonly ConcurrentDictionary<Digest, Task<ReadOnlyMemory<byte>>> _loading = new();

    public long Hits => _hits;
    public long Misses => _misses;
    private long _hits, _misses;

    public CachedChunkSource(IChunkSource inner, long capacityBytes = 256L * 1024 * 1024)
    {
        _inner = inner;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = capacityBytes, CompactionPercentage = 0.25 });
    }

    public ValueTask<ReadOnlyMemory<byte>> ReadChunkAsync(Digest digest, CancellationToken ct = default)
    {
        if (_cache.TryGetValue(digest, out ReadOnlyMemory<byte> hit))
        {
            Interlocked.Increment(ref _hits);
            return ValueTask.FromResult(hit);
        }
        return new ValueTask<ReadOnlyMemory<byte>>(LoadShared(digest).WaitAsync(ct));
    }

    /// <summary>Starts loading a chunk in the background (readahead); errors surface on the real read.</summary>
    public void Prefetch(Digest digest)
    {
        if (_cache.TryGetValue(digest, out _)) return;
        _ = LoadShared(digest).ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    public bool IsCached(Digest digest) => _cache.TryGetValue(digest, out _);

    private Task<ReadOnlyMemory<byte>> LoadShared(Digest digest)
    {
        if (_loading.TryGetValue(digest, out var running)) return running;
        var tcs = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _loading.GetOrAdd(digest, tcs.Task);
        if (shared != tcs.Task) return shared;
        Interlocked.Increment(ref _misses);
        _ = Task.Run(async () =>
        {
            try
            {
                // Not cancellable: other readers may be waiting for the same chunk.
                var data = await _inner.ReadChunkAsync(digest, CancellationToken.None).ConfigureAwait(false);
                _cache.Set(digest, data, new MemoryCacheEntryOptions { Size = Math.Max(1, data.Length) });
                tcs.SetResult(data);
            }
            catch (Exception e) { tcs.SetException(e); }
            finally { _loading.TryRemove(digest, out _); }
        });
        return tcs.Task;
    }

    public void Dispose() => _cache.Dispose();
}
