using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// Counters of one GC run (thread-safe). The PBS fields are what .gc-status stores
/// (<see cref="GcStatusFile"/>); the rest is BackupFs's own report. Sweepers of every backend
/// count through <see cref="CountSwept"/>, so "removed / pending / in use" mean the same everywhere.
/// </summary>
public sealed class GarbageCollectionStatus
{
    public const int MissingSampleLimit = 100;

    private long _indexFiles, _indexBytes, _diskBytes, _diskChunks, _removedBytes, _removedChunks,
        _pendingBytes, _pendingChunks, _removedBad, _stillBad, _cacheHits, _cacheMisses,
        _missing, _strays, _removedTemp;
    private readonly List<(Digest Digest, string IndexPath)> _missingSamples = new();

    public string? Upid { get; set; }
    public GcCutoff Cutoff { get; set; }

    // ---- PBS GarbageCollectionStatus ----
    public long IndexFileCount => Interlocked.Read(ref _indexFiles);
    /// <summary>Sum of the data sizes the marked indexes describe.</summary>
    public long IndexDataBytes => Interlocked.Read(ref _indexBytes);
    /// <summary>Chunks (and their bytes) in use after the sweep.</summary>
    public long DiskBytes => Interlocked.Read(ref _diskBytes);
    public long DiskChunks => Interlocked.Read(ref _diskChunks);
    public long RemovedBytes => Interlocked.Read(ref _removedBytes);
    public long RemovedChunks => Interlocked.Read(ref _removedChunks);
    /// <summary>Unreferenced chunks kept for safety (younger than the cutoff or than a running backup).</summary>
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);
    public long PendingChunks => Interlocked.Read(ref _pendingChunks);
    public long RemovedBad => Interlocked.Read(ref _removedBad);
    public long StillBad => Interlocked.Read(ref _stillBad);
    /// <summary>Phase-1 digest cache: repeated digests not touched again, and first sightings.</summary>
    public long CacheHits => Interlocked.Read(ref _cacheHits);
    public long CacheMisses => Interlocked.Read(ref _cacheMisses);

    // ---- BackupFs extras ----
    /// <summary>References to chunks that are not in the store (each distinct digest counted once while the cache holds it).</summary>
    public long MissingChunks => Interlocked.Read(ref _missing);
    /// <summary>Up to <see cref="MissingSampleLimit"/> missing digests with an index that needs them.</summary>
    public IReadOnlyList<(Digest Digest, string IndexPath)> MissingSamples { get { lock (_missingSamples) return _missingSamples.ToList(); } }
    /// <summary>Index files found outside the namespace/group/snapshot layout (marked anyway).</summary>
    public long StrayIndexFiles => Interlocked.Read(ref _strays);
    /// <summary>Leftover temp files (crashed writes) older than the cutoff that the sweep deleted.</summary>
    public long RemovedTempFiles => Interlocked.Read(ref _removedTemp);

    public void CountIndex(long dataBytes) { Interlocked.Increment(ref _indexFiles); Interlocked.Add(ref _indexBytes, dataBytes); }
    public void CountStrayIndex() => Interlocked.Increment(ref _strays);
    public void CountCache(bool hit) => Interlocked.Increment(ref hit ? ref _cacheHits : ref _cacheMisses);
    public void CountRemovedTemp() => Interlocked.Increment(ref _removedTemp);

    public void CountMissing(Digest digest, string indexPath)
    {
        Interlocked.Increment(ref _missing);
        lock (_missingSamples)
            if (_missingSamples.Count < MissingSampleLimit) _missingSamples.Add((digest, indexPath));
    }

    /// <summary>Counts one swept chunk file (bad = a "&lt;hex&gt;.&lt;n&gt;.bad" file), as PBS's cond_sweep_chunk does.</summary>
    public void CountSwept(SweepDecision decision, long size, bool bad)
    {
        switch (decision)
        {
            case SweepDecision.Remove:
                Interlocked.Increment(ref bad ? ref _removedBad : ref _removedChunks);
                Interlocked.Add(ref _removedBytes, size);
                break;
            case SweepDecision.Pending:
                Interlocked.Increment(ref bad ? ref _stillBad : ref _pendingChunks);
                Interlocked.Add(ref _pendingBytes, size);
                break;
            default:
                if (!bad) Interlocked.Increment(ref _diskChunks);
                Interlocked.Add(ref _diskBytes, size);
                break;
        }
    }
}
