using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;
using BackupFs.S3.Chunks;
using BackupFs.S3.Client;

namespace BackupFs.S3.Maintenance;

/// <summary>
/// Garbage collection of an S3 datastore (PBS 4, formats.md §7.7). Mark touches the local cache's
/// chunk file or 0-byte marker (no object-store request), or leaves a "&lt;hex&gt;.using" file when
/// the cache knows nothing of the chunk. Sweep lists "&lt;store&gt;/.chunks/" and decides per object
/// by the local file's atime (S3 LastModified is never used); removals go out as DeleteObjects of
/// up to 1000 keys. Then the cache directory is swept like a local store.
/// <para>Safety against concurrent backups: an object is only deleted while this process holds
/// its chunk's upload lock, after its local file was moved aside and its atime read again (a
/// backup that touched it meanwhile keeps it; one that looks after the move uploads again, and
/// waits for the lock). An object the cache knows nothing of is deleted only while no backup is
/// holding the process lock in this process (others cannot while GC holds it exclusively), since such a backup may have found it in the bucket (412) a moment ago.</para>
/// <para>The cache is a store BackupFs may not have written: before a local file is touched, moved
/// or deleted, its prefix directory is checked to be a real directory reached without symlinks and
/// the file itself to be a regular file, so nothing outside the cache is ever changed.</para>
/// </summary>
public sealed class S3GcBackend : IGcBackend
{
    private const int BatchSize = 1000;
    private readonly S3ChunkBackend _chunks;
    private readonly DataStore _store;
    private readonly LocalChunkStore _cache;

    public S3GcBackend(S3ChunkBackend chunks, DataStore store)
    {
        _chunks = chunks;
        _store = store;
        _cache = chunks.Cache ?? throw new BackupFsException("garbage collection of an S3 datastore needs its local cache directory");
    }

    public string Description => $"s3://{_chunks.Client.Bucket}/{_chunks.Layout.StoreName}";

    public async ValueTask PrepareAsync(bool atimeSafetyCheck, CancellationToken ct)
    {
        // GC deletes objects: a reader host (or a read-only opening) must not even start it.
        if (_chunks.Client.ReadOnlyReason is { } readOnly)
            throw new S3ReadOnlyException($"refusing garbage collection: {readOnly}");
        await _chunks.Client.HeadBucketAsync(ct).ConfigureAwait(false); // fail before marking when the bucket is unreachable
        if (atimeSafetyCheck) AtimeCheck.Run(_cache.ChunkDir);
    }

    public ChunkMarkResult MarkChunk(Digest digest)
    {
        RequireRealPrefix(digest);
        if (_cache.Touch(digest)) return ChunkMarkResult.Marked;
        var path = _cache.ChunkPath(digest);
        bool anyBad = false;
        for (int n = 0; n < 10; n++)
        {
            var bad = $"{path}.{n}.bad";
            if (!IsRegularFile(bad)) continue;
            File.SetLastAccessTimeUtc(bad, DateTime.UtcNow);
            anyBad = true;
        }
        if (anyBad) return ChunkMarkResult.Missing;
        File.WriteAllBytes(path + ".using", []); // "expected in the bucket": keeps its object in phase 2
        return ChunkMarkResult.Expected;
    }

    public async Task SweepAsync(GcSweepContext context, CancellationToken ct)
    {
        var batch = new List<Candidate>(BatchSize);
        try
        {
            await foreach (var obj in S3ChunkLister.ListAsync(_chunks.Client, _chunks.Layout, ct: ct).ConfigureAwait(false))
            {
                context.Progress.Add(1, obj.Size);
                var candidate = Decide(obj, context);
                if (candidate is null) continue;
                batch.Add(candidate);
                if (batch.Count >= BatchSize) await FlushAsync(batch, context, ct).ConfigureAwait(false);
            }
            await FlushAsync(batch, context, ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var c in batch) c.Abandon(); // a failed request: put local files back, release locks
        }
        context.Progress.Complete();
        // PBS phase 3: the cache directory itself (stale markers and cached chunks, .using files).
        var scratch = new GcSweepContext(context.Cutoff, new GarbageCollectionStatus(), context.Progress);
        await new LocalChunkSweeper(_cache, d => _chunks.ForgetCached(d)).SweepAsync(scratch, ct).ConfigureAwait(false);
    }

    /// <summary>Returns a removal candidate (holding the chunk's lock), or null when the object stays.</summary>
    private Candidate? Decide(S3ChunkObject obj, GcSweepContext context)
    {
        var digest = obj.Chunk.Digest;
        bool bad = obj.Chunk.BadIndex is not null;
        var local = bad ? $"{_cache.ChunkPath(digest)}.{obj.Chunk.BadIndex}.bad" : _cache.ChunkPath(digest);
        if (!_chunks.Locks.TryAcquire(digest, out var held))
        {
            context.Status.CountSwept(SweepDecision.Keep, obj.Size, bad); // being uploaded right now
            return null;
        }
        var candidate = new Candidate(obj, digest, bad, local, held);
        try
        {
            RequireRealPrefix(digest);
            if (IsRegularFile(local))
            {
                var decision = context.Cutoff.Classify(AtimeOf(local));
                if (decision == SweepDecision.Remove)
                {
                    // Move aside, then look again: a backup that reused the chunk in between set a fresh atime.
                    var aside = local + LocalChunkSweeper.QuarantineSuffix;
                    File.Move(local, aside, overwrite: true);
                    candidate.Aside = aside;
                    decision = context.Cutoff.Classify(AtimeOf(aside));
                }
                if (decision != SweepDecision.Remove)
                {
                    candidate.Abandon();
                    context.Status.CountSwept(decision, obj.Size, bad);
                    return null;
                }
                return candidate;
            }
            if (!bad && File.Exists(local + ".using"))
            {
                // Referenced, not cached: becomes a marker so the cache knows the bucket has it.
                File.Delete(local + ".using");
                _cache.ReplaceWithMarker(digest);
                candidate.Abandon();
                context.Status.CountSwept(SweepDecision.Keep, obj.Size, bad);
                return null;
            }
            candidate.NoLocalTrace = true;
            return candidate;
        }
        catch
        {
            candidate.Abandon();
            throw;
        }
    }

    private async Task FlushAsync(List<Candidate> batch, GcSweepContext context, CancellationToken ct)
    {
        if (batch.Count == 0) return;
        bool writersRunning = DatastoreProcessLock.OldestShared(_store) is not null;
        var delete = new List<Candidate>(batch.Count);
        foreach (var c in batch)
        {
            if (c.NoLocalTrace && writersRunning)
            {
                context.Status.CountSwept(SweepDecision.Pending, c.Object.Size, c.Bad); // a running backup may rely on it
                c.Abandon();
            }
            else delete.Add(c);
        }
        batch.Clear();
        try
        {
            if (delete.Count > 0) await _chunks.Client.DeleteManyAsync(delete.Select(c => c.Object.Key), ct).ConfigureAwait(false);
        }
        catch
        {
            // The batch may have been deleted even though no answer came (a timeout is ambiguous):
            // drop the local copies, so the cache never claims a chunk the bucket may have lost.
            // A later backup then uploads it again (put-if-absent), a reader fetches it if it is there.
            foreach (var c in delete) c.ForgetLocal(_chunks);
            throw;
        }
        foreach (var c in delete)
        {
            if (c.Aside is not null) File.Delete(c.Aside);
            if (!c.Bad) _chunks.ForgetCached(c.Digest);
            context.Status.CountSwept(SweepDecision.Remove, c.Object.Size, c.Bad);
            c.Release();
        }
    }

    // A symlinked prefix directory would move or delete files outside the cache: refuse (GC stops).
    private void RequireRealPrefix(Digest digest)
    {
        var relative = LocalChunkStore.ChunkDirName + "/" + digest.Prefix;
        if (!_store.IsRealDirectory(relative) && Directory.Exists(Path.Combine(_cache.DatastoreRoot, relative)))
            throw new Datastore.Platform.UnsafePathException($"refusing to use {Path.Combine(_cache.DatastoreRoot, relative)}: it is a symbolic link or not a directory");
    }

    private static bool IsRegularFile(string path) => Datastore.Platform.StoreFile.IsRegularFile(path);

    private static long AtimeOf(string path) =>
        new DateTimeOffset(File.GetLastAccessTimeUtc(path), TimeSpan.Zero).ToUnixTimeSeconds();

    /// <summary>An object chosen for removal; holds the chunk lock until it is deleted or abandoned.</summary>
    private sealed class Candidate(S3ChunkObject obj, Digest digest, bool bad, string local, KeyedAsyncLock<Digest>.Releaser held)
    {
        private bool _released;
        public S3ChunkObject Object { get; } = obj;
        public Digest Digest { get; } = digest;
        public bool Bad { get; } = bad;
        public string? Aside { get; set; }
        public bool NoLocalTrace { get; set; }

        /// <summary>Keeps the object: the local file goes back, the lock is released.</summary>
        public void Abandon()
        {
            if (_released) return;
            if (Aside is not null && File.Exists(Aside)) File.Move(Aside, local, overwrite: true);
            Release();
        }

        /// <summary>Keeps the object but not the local file (outcome of its deletion unknown).</summary>
        public void ForgetLocal(S3ChunkBackend chunks)
        {
            if (_released) return;
            try
            {
                if (Aside is not null) File.Delete(Aside);
                if (!Bad) chunks.ForgetCached(Digest);
            }
            finally { Release(); }
        }

        public void Release()
        {
            if (_released) return;
            _released = true;
            held.Dispose();
        }
    }
}
