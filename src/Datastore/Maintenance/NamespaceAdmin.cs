using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Locking;

namespace BackupFs.Datastore.Maintenance;

/// <summary>What a namespace removal did.</summary>
public sealed record NamespaceRemoval(
    IReadOnlyList<BackupNamespace> RemovedNamespaces,
    int RemovedSnapshots,
    int RemovedGroups,
    IReadOnlyList<SnapshotRef> KeptProtected)
{
    /// <summary>False when protected snapshots kept some namespace alive.</summary>
    public bool Complete => KeptProtected.Count == 0;
}

/// <summary>
/// Creates and removes namespaces. Locally a namespace is its directory; the object store of an S3
/// datastore has a ".namespace" marker object (PUT no-replace at creation, DELETE at removal).
/// Removal deletes through <see cref="SafeDelete"/> only: a namespace, type, group or snapshot that is a
/// symlink is refused (and skipped by the listings), so nothing outside the store is ever deleted.
/// </summary>
public static class NamespaceAdmin
{
    private const string Marker = ".namespace";

    /// <exception cref="BackupFsException">it exists already, or its parent does not</exception>
    public static async Task CreateAsync(DataStore store, BackupNamespace ns, CancellationToken ct = default)
    {
        if (ns.IsRoot) throw new BackupFsException("the root namespace always exists");
        if (store.NamespaceExists(ns)) throw new BackupFsException($"namespace '{ns.Display}' already exists");
        await store.CreateNamespaceAsync(ns, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes a namespace. Without <paramref name="recursive"/> only an empty one (no groups, no
    /// child namespaces). Recursively, every snapshot, group and child namespace goes, except
    /// protected snapshots: they stay, and so do their groups and namespaces (see the result).
    /// </summary>
    public static async Task<NamespaceRemoval> RemoveAsync(DataStore store, BackupNamespace ns, bool recursive = false, CancellationToken ct = default)
    {
        if (ns.IsRoot) throw new BackupFsException("the root namespace cannot be removed");
        // A symlink at the namespace or any parent: refuse by name rather than report "does not exist".
        using (var nsDir = DirectoryHandle.OpenBelow(store.Root, ns.RelativePath))
            if (nsDir is null) throw new BackupFsException($"namespace '{ns.Display}' does not exist");

        var children = store.ListNamespaces(ns, recursive: true).ToList();
        if (!recursive)
        {
            int groups = store.ListGroups(ns).Count();
            if (groups > 0 || children.Count > 0)
                throw new BackupFsException($"namespace '{ns.Display}' is not empty ({groups} groups, {children.Count} child namespaces); remove it recursively to delete its contents");
        }

        var removedNamespaces = new List<BackupNamespace>();
        var kept = new List<SnapshotRef>();
        int removedSnapshots = 0, removedGroups = 0;
        // Deepest first, so a parent is empty by the time it is looked at.
        foreach (var current in children.OrderByDescending(c => c.Depth).Append(ns))
        {
            foreach (var group in store.ListGroups(current))
            {
                var (snapshots, groupRemoved, protectedOnes) = await RemoveGroupAsync(store, group, ct).ConfigureAwait(false);
                removedSnapshots += snapshots;
                if (groupRemoved) removedGroups++;
                kept.AddRange(protectedOnes);
            }
            var dir = store.FullPath(current.RelativePath);
            if (!HoldsOnlyEmptyDirectories(dir)) continue;
            await store.Mirror.DeleteAsync(current.RelativePath + "/" + Marker, ct).ConfigureAwait(false);
            SafeDelete.Tree(store.Root, current.RelativePath);
            removedNamespaces.Add(current);
        }
        return new NamespaceRemoval(removedNamespaces, removedSnapshots, removedGroups, kept);
    }

    private static async Task<(int Snapshots, bool GroupRemoved, List<SnapshotRef> Protected)> RemoveGroupAsync(
        DataStore store, BackupGroup group, CancellationToken ct)
    {
        using var groupLock = DatastoreLocks.LockGroup(store, group);
        var kept = new List<SnapshotRef>();
        int removed = 0;
        foreach (var info in store.ListSnapshots(group))
        {
            ct.ThrowIfCancellationRequested();
            if (info.Protected) { kept.Add(info.Snapshot); continue; }
            await SnapshotRemover.RemoveAsync(store, info.Snapshot, ct).ConfigureAwait(false);
            removed++;
        }
        if (kept.Count > 0) return (removed, false, kept);
        foreach (var file in new[] { DataStore.OwnerFile, DataStore.NotesFile })
            await store.Mirror.DeleteAsync(group.RelativePath + "/" + file, ct).ConfigureAwait(false);
        SafeDelete.Tree(store.Root, group.RelativePath);
        DatastoreLocks.RemoveGroupLockFile(store, group);
        return (removed, true, kept);
    }

    // Symlinks count as content and are never followed: a namespace holding one is left alone.
    private static bool HoldsOnlyEmptyDirectories(string dir) =>
        !new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Any(e => e is not DirectoryInfo || (e.Attributes & FileAttributes.ReparsePoint) != 0);
}
