using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Locking;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// Removes one snapshot: its objects in the mirror (the bucket of an S3 store) first, then the
/// local directory, manifest first. An object-store failure therefore leaves the snapshot listed
/// and complete, and the command can simply be rerun. Protected snapshots are refused.
/// The caller holds the group lock (prune, forget, namespace removal).
/// <para>The snapshot directory is opened through <see cref="DirectoryHandle"/> before anything is
/// removed, so a symlink at any level (namespace, type, group, snapshot) is refused up front — also
/// before the object store is touched — and the local delete never leaves the store.</para>
/// </summary>
internal static class SnapshotRemover
{
    public static async Task RemoveAsync(DataStore store, SnapshotRef snapshot, CancellationToken ct)
    {
        var (groupPath, timeName) = SafeDelete.Split(snapshot.RelativePath);
        using var groupDir = DirectoryHandle.OpenBelow(store.Root, groupPath)
            ?? throw new BackupFsException($"snapshot {snapshot} does not exist");
        using var snapshotDir = groupDir.OpenChild(timeName)
            ?? throw new BackupFsException($"snapshot {snapshot} does not exist");
        // As PBS: the snapshot lock (a verify or reader holds it shared, a backup exclusively) and the manifest lock.
        using var snapshotLock = DatastoreLocks.LockSnapshot(store, snapshot, exclusive: true);
        using var manifestLock = await DatastoreLocks.LockManifestAsync(store, snapshot, ct).ConfigureAwait(false);
        if (snapshotDir.TryStat(DataStore.ProtectedMarker) is not null)
            throw new SnapshotProtectedException(snapshot.ToString());

        try
        {
            await store.Mirror.DeletePrefixAsync(snapshot.RelativePath, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new BackendException($"removing snapshot {snapshot} from the object store failed: {e.Message}; nothing was removed locally, run the command again", e);
        }

        // Manifest first: if anything below fails the rest is an unfinished snapshot, never listed as complete.
        snapshotDir.DeleteFile(DataStore.ManifestName);
        groupDir.DeleteTree(timeName);
        DatastoreLocks.RemoveSnapshotLockFiles(store, snapshot);
    }
}
