using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Maintenance;

/// <summary>What marking one referenced chunk found.</summary>
public enum ChunkMarkResult
{
    /// <summary>The chunk (or, in an S3 cache, its 0-byte marker) exists and its atime is now.</summary>
    Marked,
    /// <summary>Not found locally, but it may live in the object store: an S3 backend records it as expected (".using").</summary>
    Expected,
    /// <summary>Not in the store. Any "&lt;hex&gt;.&lt;n&gt;.bad" copies were touched, so GC keeps them as evidence.</summary>
    Missing,
}

/// <summary>
/// The seam between <see cref="GarbageCollector"/> and where chunks live. The collector owns what
/// is the same for every backend: the GC lock, the cutoff (<see cref="GcCutoff"/>, from the
/// oldest shared holder of <see cref="Locking.DatastoreProcessLock"/>), walking every index of every snapshot, the digest cache,
/// missing-chunk accounting, progress and .gc-status. A backend supplies three steps.
///
/// <para><b>Local datastore</b> (<see cref="LocalGcBackend"/>): Prepare checks that the file
/// system updates atimes; Mark touches the chunk file's atime; Sweep walks .chunks/*/ with
/// <see cref="LocalChunkSweeper"/>.</para>
///
/// <para><b>S3 datastore</b> (to be implemented in BackupFs.S3, PBS 4 behaviour, formats.md §7.7):
/// <list type="number">
/// <item>PrepareAsync: HEAD the bucket and fail with a BackendException when it cannot be
/// reached, so nothing starts against a dead gateway; then the same atime check on the cache directory.</item>
/// <item>MarkChunk: touch the cache's chunk file or 0-byte marker (LocalChunkStore.Touch) —
/// never an object-store request. When neither exists, touch any .bad copies; if there are none,
/// create the empty "&lt;hex&gt;.using" file and return <see cref="ChunkMarkResult.Expected"/>.</item>
/// <item>SweepAsync: ListObjectsV2 over "&lt;store&gt;/.chunks/" (pages of 1000). For each key whose
/// file name is 64 hex digits (optionally ".&lt;n&gt;.bad"): skip it when the chunk's upload lock is
/// held (a backup is uploading it right now); local file present → decide by its atime with
/// <see cref="GcSweepContext.Cutoff"/>.Classify; no local file but a ".using" file → replace that by
/// a 0-byte marker and keep; neither → remove. Queue removals and send them as DeleteObjects of at
/// most 1000 keys (≤ 1 request per 1000 deletions); drop each removed chunk from the local cache
/// (LocalChunkStore.Remove) so the cache never claims a chunk the bucket lost. Count every object
/// with <see cref="GarbageCollectionStatus.CountSwept"/> on the context's status. S3 LastModified is
/// never used. Finally sweep the cache directory like a local store (PBS phase 3) with
/// <c>new LocalChunkSweeper(cache).SweepAsync(context with a scratch status)</c>, which also deletes the
/// ".using" files. A failed request must throw (BackendException): the run stops, nothing
/// referenced was deleted, and it can be rerun.</item>
/// </list></para>
/// </summary>
public interface IGcBackend
{
    /// <summary>For messages, e.g. "local chunk store /srv/ds" or "s3://bucket/store".</summary>
    string Description { get; }

    /// <summary>
    /// Checks before phase 1. Throws when GC must not run: the backend cannot be reached, or
    /// (when <paramref name="atimeSafetyCheck"/>) the file system ignores atime updates.
    /// </summary>
    ValueTask PrepareAsync(bool atimeSafetyCheck, CancellationToken ct);

    /// <summary>Phase 1 for one referenced chunk. Called once per distinct digest while the collector's cache holds it; must not read the chunk's contents.</summary>
    ChunkMarkResult MarkChunk(Digest digest);

    /// <summary>Phase 2: removes chunks not marked since <see cref="GcCutoff.MinAtime"/> and counts every chunk seen.</summary>
    Task SweepAsync(GcSweepContext context, CancellationToken ct);
}

/// <summary>What a sweep needs: the time rule, where to count, where to report progress.</summary>
public sealed class GcSweepContext
{
    public GcCutoff Cutoff { get; }
    public GarbageCollectionStatus Status { get; }
    /// <summary>Items = chunk directories (local) or listed objects (S3); bytes = chunk bytes seen.</summary>
    public ProgressMeter Progress { get; }

    public GcSweepContext(GcCutoff cutoff, GarbageCollectionStatus status, ProgressMeter progress)
    {
        Cutoff = cutoff;
        Status = status;
        Progress = progress;
    }
}
