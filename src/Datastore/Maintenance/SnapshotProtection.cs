using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// Protects a snapshot from prune and forget with PBS's empty ".protected" marker file, mirrored
/// to the object store (PUT no-replace / DELETE) before the local file changes.
/// </summary>
public static class SnapshotProtection
{
    public static bool IsProtected(DataStore store, SnapshotRef snapshot) =>
        File.Exists(MarkerPath(store, snapshot));

    /// <summary>Sets or clears the marker; returns false when it already was in that state.</summary>
    /// <exception cref="BackupFsException">the snapshot does not exist</exception>
    public static async Task<bool> SetAsync(DataStore store, SnapshotRef snapshot, bool protect, CancellationToken ct = default)
    {
        // Through a descriptor opened without following symlinks: a symlinked namespace, type, group or
        // snapshot is refused, so the marker is never created or deleted outside the store.
        using var dir = Platform.DirectoryHandle.OpenBelow(store.Root, snapshot.RelativePath)
            ?? throw new BackupFsException($"snapshot {snapshot} does not exist");
        // As PBS: under the snapshot lock, so a removal or a running backup of it is not raced.
        using var snapshotLock = DatastoreLocks.LockSnapshot(store, snapshot, exclusive: true);
        var path = MarkerPath(store, snapshot);
        var relative = snapshot.RelativePath + "/" + DataStore.ProtectedMarker;
        bool was = dir.TryStat(DataStore.ProtectedMarker) is not null;
        if (protect)
        {
            // Mirrored even when present locally, so a bucket that lost the object gets it back.
            await store.Mirror.PutAsync(relative, ReadOnlyMemory<byte>.Empty, noReplace: true, ct).ConfigureAwait(false);
            if (!was) await File.WriteAllBytesAsync(path, [], ct).ConfigureAwait(false);
        }
        else
        {
            await store.Mirror.DeleteAsync(relative, ct).ConfigureAwait(false);
            if (was) dir.DeleteFile(DataStore.ProtectedMarker);
        }
        return was != protect;
    }

    private static string MarkerPath(DataStore store, SnapshotRef snapshot) =>
        Path.Combine(store.FullPath(snapshot.RelativePath), DataStore.ProtectedMarker);
}
