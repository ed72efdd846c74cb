using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Store;

/// <summary>
/// Where BackupFs keeps its runtime lock files: below the datastore's own .backupfs directory, so
/// every process using the store (backups, prune, verify, GC, the mount) sees the same files.
/// All are flock files (see <see cref="FileLock"/>).
/// </summary>
public static class LockPaths
{
    /// <summary>.backupfs/locks, created private (0700) and never through a symlink.</summary>
    public static string Directory(DataStore store) => store.EnsurePrivateDirectory("locks");

    /// <summary>Held exclusively by a running backup of the group, and by prune/forget of its snapshots.</summary>
    public static string Group(DataStore store, BackupGroup group) =>
        Path.Combine(Directory(store), Flatten(group.RelativePath) + ".lck");

    /// <summary>Shared while a snapshot is verified; exclusive while it is removed.</summary>
    public static string Snapshot(DataStore store, SnapshotRef snapshot) =>
        Path.Combine(Directory(store), Flatten(snapshot.RelativePath) + ".snapshot.lck");

    /// <summary>Held while index.json.blob is rewritten (verify state), so updates never overwrite each other.</summary>
    public static string Manifest(DataStore store, SnapshotRef snapshot) =>
        Path.Combine(Directory(store), Flatten(snapshot.RelativePath) + ".index.json.lck");

    /// <summary>Held exclusively by a running garbage collection: one GC per store at a time.</summary>
    public static string GarbageCollection(DataStore store) => Path.Combine(Directory(store), "gc.lck");

    private static string Flatten(string relativePath) => relativePath.Replace('/', '%');
}
