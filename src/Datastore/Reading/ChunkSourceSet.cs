using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// The decoded-chunk caches of one reader process: the plain one, and one per encryption key in use,
/// so a chunk is only ever served to archives of the key (or plain mode) it was decoded and checked
/// with. Each cache has the same capacity; memory is (1 + keys in use) × capacity at most.
/// </summary>
public sealed class ChunkSourceSet : IDisposable
{
    private readonly IChunkBackend _backend;
    private readonly long _capacity;
    private readonly Dictionary<KeyFingerprint, CachedChunkSource> _keyed = new();

    public CachedChunkSource Plain { get; }

    public ChunkSourceSet(IChunkBackend backend, CachedChunkSource plain, long capacityBytes)
    {
        _backend = backend;
        Plain = plain;
        _capacity = capacityBytes;
    }

    /// <summary>The cache for chunks of <paramref name="key"/>, or the plain one for null.</summary>
    public CachedChunkSource For(CryptKey? key)
    {
        if (key is null) return Plain;
        lock (_keyed)
        {
            if (!_keyed.TryGetValue(key.Fingerprint, out var source))
                _keyed[key.Fingerprint] = source = new CachedChunkSource(new DecodingChunkSource(_backend, key), _capacity);
            return source;
        }
    }

    /// <summary>Disposes the keyed caches; the plain one belongs to whoever created it.</summary>
    public void Dispose()
    {
        lock (_keyed)
        {
            foreach (var c in _keyed.Values) c.Dispose();
            _keyed.Clear();
        }
    }
}
