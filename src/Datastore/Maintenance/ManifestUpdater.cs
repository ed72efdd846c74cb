using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// Rewrites a finished snapshot's manifest (PBS update_manifest), e.g. to record the verify state
/// in its unprotected section: under the manifest lock, read the current file, change it, upload
/// it to the mirror, then replace the local file atomically. The signature does not cover the
/// unprotected section, so a signed manifest stays valid.
/// </summary>
public static class ManifestUpdater
{
    public static async Task<BackupManifest> UpdateAsync(DataStore store, SnapshotRef snapshot, Action<BackupManifest> change, CancellationToken ct = default)
    {
        using var manifestLock = await DatastoreLocks.LockManifestAsync(store, snapshot, ct).ConfigureAwait(false);
        var path = Path.Combine(store.FullPath(snapshot.RelativePath), DataStore.ManifestName);
        byte[] current;
        try { current = await StoreFile.ReadAllAsync(path, StoreFileLimits.Blob, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BackupFsException($"snapshot {snapshot} has no manifest (unfinished or removed)");
        }
        BackupManifest manifest;
        try { manifest = BackupManifest.FromBlob(current); }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{snapshot}/{DataStore.ManifestName}: {e.Message}", e); }
        change(manifest);
        var blob = manifest.ToBlob();
        await store.Mirror.PutAsync(snapshot.RelativePath + "/" + DataStore.ManifestName, blob, noReplace: false, ct).ConfigureAwait(false);
        await AtomicFile.WriteAsync(path, blob, fsync: true, ct).ConfigureAwait(false);
        return manifest;
    }
}
