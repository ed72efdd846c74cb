using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// GC phase 1 (PBS mark_used_chunks): every index of every snapshot in every namespace —
/// finished or not, newest snapshot of a group first — plus any index file found elsewhere, has
/// each of its chunks marked through the backend. Only index files are read, never chunks. A
/// bounded set of digests already marked avoids repeated touches. An index that cannot be parsed
/// stops GC before anything is swept: its chunks are unknown, so removing anything could lose data.
/// </summary>
internal sealed class ChunkMarker
{
    private const int GroupRetries = 10;

    private readonly DataStore _store;
    private readonly IGcBackend _backend;
    private readonly GarbageCollectionStatus _status;
    private readonly ProgressMeter _progress;
    private readonly int _cacheCapacity;
    private readonly HashSet<Digest> _marked = new();

    public ChunkMarker(DataStore store, IGcBackend backend, GarbageCollectionStatus status, ProgressMeter progress, int cacheCapacity)
    {
        _store = store;
        _backend = backend;
        _status = status;
        _progress = progress;
        _cacheCapacity = cacheCapacity;
    }

    public void MarkAll(CancellationToken ct)
    {
        var unprocessed = IndexFileScanner.FindAll(_store, ct);
        _progress.SetTotal(unprocessed.Count);

        foreach (var group in _store.ListAllGroups())
            MarkGroup(group, unprocessed, ct);

        // Index files outside the layout (or in snapshots that appeared after the listing).
        foreach (var path in unprocessed.Order(StringComparer.Ordinal))
            if (MarkIndexFile(path, ct)) _status.CountStrayIndex();
        _progress.Complete();
    }

    private void MarkGroup(BackupGroup group, HashSet<string> unprocessed, CancellationToken ct)
    {
        // PBS: a prune may remove the newest snapshot while a new one is created; if the newest
        // snapshot vanished under us, list again so chunks only the new one references are marked.
        for (int attempt = 0; attempt < GroupRetries; attempt++)
        {
            var snapshots = _store.ListSnapshots(group);
            bool newestVanished = false;
            for (int i = snapshots.Count - 1; i >= 0 && !newestVanished; i--)
            {
                var dir = _store.FullPath(snapshots[i].Snapshot.RelativePath);
                foreach (var file in snapshots[i].Files)
                {
                    if (!IndexFileScanner.IsIndexName(file)) continue;
                    var path = Path.Combine(dir, file);
                    unprocessed.Remove(path);
                    if (!MarkIndexFile(path, ct) && i == snapshots.Count - 1)
                    {
                        newestVanished = true;
                        break;
                    }
                }
            }
            if (!newestVanished) return;
        }
    }

    /// <summary>False when the file no longer exists.</summary>
    private bool MarkIndexFile(string path, CancellationToken ct)
    {
        IChunkIndex index;
        try
        {
            var bytes = StoreFile.ReadAll(path, StoreFileLimits.Index);
            index = path.EndsWith(".fidx", StringComparison.Ordinal) ? FixedIndex.Parse(bytes) : DynamicIndex.Parse(bytes);
        }
        catch (FileNotFoundException) { return false; }
        catch (DirectoryNotFoundException) { return false; }
        catch (Exception e) when (e is FormatCorruptException or UnsafePathException)
        {
            throw new FormatCorruptException(
                $"garbage collection stopped before removing anything: cannot read index {path}: {e.Message} " +
                "(its chunks are unknown; forget that snapshot or restore the file, then run GC again)", e);
        }

        _status.CountIndex(index.Size);
        for (int i = 0; i < index.Count; i++)
        {
            if ((i & 1023) == 0) ct.ThrowIfCancellationRequested();
            var digest = index.DigestAt(i);
            if (_cacheCapacity > 0)
            {
                if (!_marked.Add(digest))
                {
                    _status.CountCache(hit: true);
                    continue;
                }
                _status.CountCache(hit: false);
                if (_marked.Count >= _cacheCapacity) _marked.Clear(); // bounded memory; a later repeat is touched again
            }
            if (_backend.MarkChunk(digest) == ChunkMarkResult.Missing)
                _status.CountMissing(digest, path);
        }
        _progress.Add(1, index.Size);
        return true;
    }
}
