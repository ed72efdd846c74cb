using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Reading;
using BackupFs.S3.Client;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Chunks;

/// <summary>Cache effectiveness counters of an <see cref="S3ChunkBackend"/>.</summary>
public readonly record struct S3ChunkCacheStats(long Hits, long Misses, long Refetches, long Evictions);

/// <summary>
/// Chunks of an S3 datastore: the bucket holds every chunk; the local cache store (a regular
/// chunk store) holds recently used ones in full and 0-byte markers for evicted ones.
/// Reads: cache first; on a miss (absent, marker or empty file) download, verify (re-fetch once),
/// then insert into the cache. Uploads: PUT with If-None-Match: * (412 = already stored), and
/// only after the upload succeeded the chunk enters the cache, so a cached chunk is always in the
/// bucket; work on one digest is serialised. The cache holds at most Capacity full chunks (LRU).
/// </summary>
public sealed partial class S3ChunkBackend : IChunkBackend, IDecodedChunkBackend
{
    private readonly S3ObjectClient _client;
    private readonly S3KeyLayout _layout;
    private readonly LocalChunkStore? _cache;
    private readonly ChunkLru? _lru;
    private readonly KeyedAsyncLock<Digest> _locks = new();
    private long _hits, _misses, _refetches, _evictions;

    /// <summary>Uploads bypass the cache (PBS's no-cache backups): always PUT, nothing written locally.</summary>
    public bool NoCacheUploads { get; }
    public S3KeyLayout Layout => _layout;
    public S3ObjectClient Client => _client;
    public long CacheCapacity => _lru?.Capacity ?? 0;
    public S3ChunkCacheStats Stats => new(Interlocked.Read(ref _hits), Interlocked.Read(ref _misses),
        Interlocked.Read(ref _refetches), Interlocked.Read(ref _evictions));

    internal LocalChunkStore? Cache => _cache;
    internal ChunkLru? Lru => _lru;
    internal KeyedAsyncLock<Digest> Locks => _locks;

    /// <param name="cacheRoot">the local cache datastore directory (with .chunks), or null for no local cache at all</param>
    /// <param name="cacheCapacityChunks">maximum number of full chunks kept in the cache</param>
    public S3ChunkBackend(S3ObjectClient client, S3KeyLayout layout, string? cacheRoot, long cacheCapacityChunks, bool noCacheUploads = false)
    {
        _client = client;
        _layout = layout;
        NoCacheUploads = noCacheUploads;
        if (cacheRoot != null)
        {
            _cache = new LocalChunkStore(cacheRoot);
            _lru = new ChunkLru(cacheCapacityChunks);
        }
    }

    /// <summary>Default capacity like PBS: the free space of the cache file system in 16 MiB units (at least 64).</summary>
    public static long DefaultCapacity(string cacheRoot)
    {
        var drive = new DriveInfo(Path.GetFullPath(cacheRoot));
        return Math.Max(64, drive.AvailableFreeSpace / (16L * 1024 * 1024));
    }

    /// <summary>
    /// Tracks the full chunk files already in the cache (least recently accessed evicted first)
    /// so the capacity also bounds what earlier runs left behind. Returns how many were found.
    /// </summary>
    public int AdoptCachedChunks()
    {
        if (_cache == null || _lru == null) return 0;
        var found = new List<(Digest Digest, DateTime Atime)>();
        foreach (var dir in Directory.EnumerateDirectories(_cache.ChunkDir))
            foreach (var file in Directory.EnumerateFiles(dir))
            {
                var name = Path.GetFileName(file);
                if (!Digest.TryParse(name, out var d)) continue;
                var info = new FileInfo(file);
                if (info.Exists && info.Length > 0) found.Add((d, info.LastAccessTimeUtc));
            }
        foreach (var (digest, _) in found.OrderBy(f => f.Atime))
            Evict(_lru.Add(digest));
        return found.Count;
    }

    /// <summary>Cache hits come as pooled buffers (no array per chunk); misses download as usual.</summary>
    public async ValueTask<ChunkBuffer?> ReadBlobBufferAsync(Digest digest, CancellationToken ct = default)
    {
        if (_cache != null && await _cache.ReadBlobBufferAsync(digest, ct).ConfigureAwait(false) is { } cached)
        {
            Interlocked.Increment(ref _hits);
            if (!_lru!.Touch(digest)) Evict(_lru.Add(digest));
            return cached;
        }
        var blob = await ReadBlobAsync(digest, ct).ConfigureAwait(false);
        return blob is null ? null : ChunkBuffer.Wrap(blob);
    }

    public async ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default)
    {
        if (_cache != null)
        {
            var cached = _cache.TryReadBlob(digest);
            if (cached is { Length: > 0 })
            {
                Interlocked.Increment(ref _hits);
                if (!_lru!.Touch(digest)) Evict(_lru.Add(digest));
                return cached;
            }
        }
        Interlocked.Increment(ref _misses);
        var blob = await DownloadVerifiedAsync(digest, ct).ConfigureAwait(false);
        if (blob != null) await CacheDownloadAsync(digest, blob, ct).ConfigureAwait(false);
        return blob;
    }

    /// <summary>
    /// A plain chunk decoded once: a cache hit is decoded from the cached file as a local chunk is;
    /// a download is verified by that same decoding (fetched once more when bad), then cached.
    /// </summary>
    public async ValueTask<ChunkBuffer?> ReadDecodedAsync(Digest digest, CancellationToken ct = default)
    {
        if (_cache != null && await _cache.ReadBlobBufferAsync(digest, ct).ConfigureAwait(false) is { } cached)
        {
            Interlocked.Increment(ref _hits);
            if (!_lru!.Touch(digest)) Evict(_lru.Add(digest));
            try { return DecodingChunkSource.Decode(digest, cached.Span); }
            finally { cached.Release(); }
        }
        Interlocked.Increment(ref _misses);
        ChunkBuffer? decoded = null;
        var blob = await FetchCheckedAsync(digest, _client.GetChunkBufferAsync, downloaded =>
        {
            try { decoded = DecodingChunkSource.Decode(digest, downloaded.Span); return null; }
            catch (ChunkCorruptException e) { return e.Message; }
            catch (EncryptedDataException) { return DownloadedChunkVerifier.Check(digest, downloaded.Span); }
        }, static b => b.Release(), ct).ConfigureAwait(false);
        if (blob == null) return null;
        try
        {
            await CacheDownloadAsync(digest, blob.Memory, ct).ConfigureAwait(false);
            // A verified encrypted chunk: a plain read of it is refused, as it always was.
            return decoded ?? DecodingChunkSource.Decode(digest, blob.Span);
        }
        catch
        {
            decoded?.Release();
            throw;
        }
        finally { blob.Release(); }
    }

    /// <summary>Puts a verified download into the local cache (room is made first, so full files never exceed the capacity).</summary>
    private async ValueTask CacheDownloadAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct)
    {
        if (_cache == null) return;
        using (await _locks.AcquireAsync(digest, ct).ConfigureAwait(false))
        {
            Evict(_lru!.Add(digest));
            _cache.Insert(digest, blob.Span);
        }
    }

    /// <summary>GET, verify, and on a bad copy GET once more before reporting the chunk corrupt.</summary>
    private Task<byte[]?> DownloadVerifiedAsync(Digest digest, CancellationToken ct) =>
        FetchCheckedAsync(digest, _client.GetAsync, blob => DownloadedChunkVerifier.Check(digest, blob), static _ => { }, ct);

    /// <summary>
    /// GET the chunk with <paramref name="get"/> and run <paramref name="check"/> on it (null: good,
    /// else the problem); a bad copy is dropped (<paramref name="discard"/>) and fetched once more
    /// before the chunk is reported corrupt. Null when the bucket has no such chunk.
    /// </summary>
    private async Task<T?> FetchCheckedAsync<T>(Digest digest, Func<string, CancellationToken, bool, Task<T?>> get,
        Func<T, string?> check, Action<T> discard, CancellationToken ct) where T : class
    {
        var key = _layout.ChunkObjectKey(digest);
        string? problem = null;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (attempt > 0) Interlocked.Increment(ref _refetches);
            // Every chunk is checked here, so the SDK's own MD5 of the body is not needed.
            var blob = await get(key, ct, true).ConfigureAwait(false);
            if (blob == null) return null;
            try { problem = check(blob); }
            catch
            {
                discard(blob);
                throw;
            }
            if (problem == null) return blob;
            discard(blob);
        }
        throw new ChunkCorruptException(digest, $"the copy in the bucket is corrupt (downloaded twice): {problem}");
    }

    /// <summary>
    /// True when the local cache knows the chunk (full file or marker; its atime is refreshed).
    /// Otherwise false, and the writer uploads with put-if-absent, which is cheap for a duplicate.
    /// </summary>
    public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default)
    {
        if (_cache == null || NoCacheUploads) return ValueTask.FromResult(false);
        bool known = _cache.Touch(digest);
        if (known) _lru!.Touch(digest);
        return ValueTask.FromResult(known);
    }

    public async ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default)
    {
        if (blob.Length < DataBlob.HeaderSize) throw new ArgumentException("a chunk blob has at least a 12-byte header", nameof(blob));
        bool useCache = _cache != null && !NoCacheUploads;
        using (await _locks.AcquireAsync(digest, ct).ConfigureAwait(false))
        {
            if (useCache && _cache!.Touch(digest))
            {
                // A full file or a marker: the chunk was uploaded before.
                _lru!.Touch(digest);
                return ChunkInsertResult.AlreadyPresent;
            }
            bool created = await _client.PutAsync(_layout.ChunkObjectKey(digest), blob, noReplace: true, ct).ConfigureAwait(false);
            if (useCache)
            {
                Evict(_lru!.Add(digest));
                _cache!.Insert(digest, blob.Span);
            }
            return created ? ChunkInsertResult.Inserted : ChunkInsertResult.AlreadyPresent;
        }
    }

    /// <summary>Forgets a chunk in the cache (after a corrupt rename or GC removal).</summary>
    internal void ForgetCached(Digest digest) => _lru?.Remove(digest);

    private void Evict(List<Digest> evicted)
    {
        foreach (var d in evicted)
        {
            // Atomic replace: a concurrent reader sees the full chunk or the marker, and a marker sends it to S3.
            _cache!.ReplaceWithMarker(d);
            Interlocked.Increment(ref _evictions);
        }
    }
}
