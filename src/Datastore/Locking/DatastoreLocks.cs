using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Locking;

/// <summary>
/// Group, snapshot and manifest locks taken exactly where PBS takes them (<see cref="PbsLockLayout"/>),
/// so BackupFs and a PBS server on the same host exclude each other as two PBS processes would:
/// <list type="bullet">
/// <item>group: exclusive, held by a running backup, by prune/forget and group removal;</item>
/// <item>snapshot: exclusive while a backup writes it, while it is removed or its protection
/// changes; shared while it is verified;</item>
/// <item>manifest: exclusive for a manifest rewrite or a removal, waiting up to 5 s as PBS does.</item>
/// </list>
/// Without PBS on the host the group and snapshot directories are flock-ed (PBS's old mode) and
/// manifest locks live in .backupfs/locks/.
/// </summary>
public static class DatastoreLocks
{
    /// <summary>PBS waits this long for a manifest lock; everything else is taken without waiting.</summary>
    public static readonly TimeSpan ManifestPatience = TimeSpan.FromSeconds(5);

    /// <summary>Locks a group exclusively. In the directory modes the group directory must exist.</summary>
    /// <exception cref="LockBusyException">a backup, prune or removal of the group runs (in BackupFs or PBS)</exception>
    public static FileLock LockGroup(DataStore store, BackupGroup group)
    {
        var what = $"group {group}";
        return PbsLockLayout.Mode == PbsLockMode.RunDirectory
            ? FileLock.LockFile(PbsLockLayout.GroupLockFile(PbsDatastoreName.Resolve(store), group), what, exclusive: true, LockFileOwner.PbsBackupUser())
            : FileLock.LockDirectory(store.FullPath(group.RelativePath), what, exclusive: true);
    }

    /// <summary>Locks a snapshot (its directory must exist in the directory modes).</summary>
    /// <exception cref="LockBusyException">it is being written, verified or removed</exception>
    public static FileLock LockSnapshot(DataStore store, SnapshotRef snapshot, bool exclusive)
    {
        var what = $"snapshot {snapshot}";
        return PbsLockLayout.Mode == PbsLockMode.RunDirectory
            ? FileLock.LockFile(PbsLockLayout.SnapshotLockFile(PbsDatastoreName.Resolve(store), snapshot), what, exclusive, LockFileOwner.PbsBackupUser())
            : FileLock.LockDirectory(store.FullPath(snapshot.RelativePath), what, exclusive);
    }

    /// <summary>Locks a snapshot's manifest exclusively, waiting up to <see cref="ManifestPatience"/>.</summary>
    public static Task<FileLock> LockManifestAsync(DataStore store, SnapshotRef snapshot, CancellationToken ct = default)
    {
        var path = ManifestLockPath(store, snapshot, out var owner);
        return FileLock.RetryAsync(() => FileLock.LockFile(path, $"manifest of {snapshot}", exclusive: true, owner), ManifestPatience, ct);
    }

    /// <summary>Removes a removed snapshot's lock files (as PBS does after destroying it); errors are ignored.</summary>
    public static void RemoveSnapshotLockFiles(DataStore store, SnapshotRef snapshot)
    {
        var mode = PbsLockLayout.Mode;
        var files = new List<string> { ManifestLockPath(store, snapshot, out _) };
        if (mode == PbsLockMode.RunDirectory) files.Add(PbsLockLayout.SnapshotLockFile(PbsDatastoreName.Resolve(store), snapshot));
        foreach (var file in files)
            try { File.Delete(file); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Removes a removed group's lock file (run-directory mode only); errors are ignored.</summary>
    public static void RemoveGroupLockFile(DataStore store, BackupGroup group)
    {
        if (PbsLockLayout.Mode != PbsLockMode.RunDirectory) return;
        try { File.Delete(PbsLockLayout.GroupLockFile(PbsDatastoreName.Resolve(store), group)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static string ManifestLockPath(DataStore store, SnapshotRef snapshot, out LockFileOwner? owner)
    {
        owner = LockFileOwner.PbsBackupUser();
        switch (PbsLockLayout.Mode)
        {
            case PbsLockMode.RunDirectory: return PbsLockLayout.ManifestLockFile(PbsDatastoreName.Resolve(store), snapshot);
            case PbsLockMode.OldInDirectory: return PbsLockLayout.OldManifestLockFile(PbsDatastoreName.Resolve(store), snapshot);
            default:
                owner = null;
                // Private state: .backupfs/locks made 0700 (and checked: no symlink, ours) before a lock file goes in.
                var dir = Platform.PrivateDirectory.Ensure(store.Root, Path.GetRelativePath(store.Root, store.PrivateDir) + "/locks");
                return Path.Combine(dir, snapshot.RelativePath.Replace('/', '%') + PbsLockLayout.ManifestLockName);
        }
    }
}
