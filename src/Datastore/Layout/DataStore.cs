using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Layout;

/// <summary>
/// A PBS datastore: the local directory (the datastore itself, or the cache store of an S3
/// datastore) plus where chunks live and where metadata is mirrored. Listing and metadata
/// reads always use the local directory, as PBS does.
/// <para>Listings show real directories only: a symlink planted in a store is skipped, as PBS skips
/// entries whose type is not a directory, and the Exists checks refuse one anywhere below the root.</para>
/// </summary>
public sealed class DataStore
{
    public const string ManifestName = "index.json.blob";
    public const string ProtectedMarker = ".protected";
    public const string OwnerFile = "owner";
    public const string NotesFile = "notes";
    /// <summary>BackupFs's own dot-directory (PBS tolerates dot entries at the top level).</summary>
    public const string PrivateDirName = ".backupfs";

    public string Root { get; }
    public string Name { get; }
    public IChunkBackend Chunks { get; }
    public IContentMirror Mirror { get; }

    public DataStore(string root, IChunkBackend chunks, IContentMirror? mirror = null, string? name = null)
    {
        Root = Path.GetFullPath(root);
        Chunks = chunks;
        Mirror = mirror ?? NoContentMirror.Instance;
        Name = name ?? Path.GetFileName(Root.TrimEnd('/'));
    }

    /// <summary>Creates an empty local datastore (refuses a non-empty directory, like PBS).</summary>
    public static DataStore CreateLocal(string root)
    {
        var full = Path.GetFullPath(root);
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full)
                .Any(e => !Path.GetFileName(e).StartsWith('.') && Path.GetFileName(e) != "lost+found"))
            throw new BackupFsException($"{full} is not empty; refusing to create a datastore there");
        var chunks = LocalChunkStore.Create(full);
        File.WriteAllBytes(Path.Combine(full, ".lock"), []);
        var store = new DataStore(full, chunks);
        PrivateDirectory.Ensure(store.Root, PrivateDirName);
        return store;
    }

    public static DataStore OpenLocal(string root) => new(root, new LocalChunkStore(root));

    public string FullPath(string relativePath) =>
        relativePath.Length == 0 ? Root : Path.Combine(Root, relativePath.Replace('/', Path.DirectorySeparatorChar));

    public string PrivateDir => Path.Combine(Root, PrivateDirName);

    /// <summary>
    /// Creates (0700, at creation) and returns a directory below .backupfs, e.g. "locks"; refuses a
    /// symlink anywhere on the way.
    /// </summary>
    public string EnsurePrivateDirectory(string relativeToPrivateDir = "") =>
        PrivateDirectory.Ensure(Root, relativeToPrivateDir.Length == 0 ? PrivateDirName : PrivateDirName + "/" + relativeToPrivateDir);

    /// <summary>Whether root/relative is a real directory, reached without any symlink below the root.</summary>
    public bool IsRealDirectory(string relativePath)
    {
        try
        {
            using var dir = DirectoryHandle.OpenBelow(Root, relativePath);
            return dir is not null;
        }
        catch (UnsafePathException) { return false; }
    }

    /// <summary>Throws unless root/relative is a real directory reached without symlinks (the error names a symlink found on the way).</summary>
    /// <exception cref="UnsafePathException">a component is a symlink or not a directory</exception>
    /// <exception cref="BackupFsException">it does not exist</exception>
    public void RequireRealDirectory(string relativePath, string what)
    {
        using var dir = DirectoryHandle.OpenBelow(Root, relativePath) ?? throw new BackupFsException($"{what} does not exist");
    }

    /// <summary>Names of the real subdirectories of a directory (symlinks to directories are left out).</summary>
    private static IEnumerable<string> RealSubdirectories(string dir) =>
        new DirectoryInfo(dir).EnumerateDirectories()
            .Where(d => (d.Attributes & FileAttributes.ReparsePoint) == 0)
            .Select(d => d.Name);

    // ---- namespaces -------------------------------------------------------------------------

    public bool NamespaceExists(BackupNamespace ns) => IsRealDirectory(ns.RelativePath);

    /// <summary>Child namespaces (names that fail the rules are skipped, never followed).</summary>
    public IEnumerable<BackupNamespace> ListNamespaces(BackupNamespace parent, bool recursive = false)
    {
        var dir = Path.Combine(FullPath(parent.RelativePath), "ns");
        if (!IsRealDirectory(Path.GetRelativePath(Root, dir)) || parent.Depth >= NameRules.MaxNamespaceDepth) yield break;
        foreach (var name in RealSubdirectories(dir).Order(StringComparer.Ordinal))
        {
            if (name is null || !NameRules.IsSafeId(name)) continue;
            var child = parent.Child(name);
            yield return child;
            if (recursive)
                foreach (var grand in ListNamespaces(child, true)) yield return grand;
        }
    }

    public async Task CreateNamespaceAsync(BackupNamespace ns, CancellationToken ct = default)
    {
        if (ns.IsRoot) return;
        if (ns.Parent is { } parent && !NamespaceExists(parent))
            throw new BackupFsException($"parent namespace '{parent.Display}' does not exist");
        await Mirror.PutAsync(ns.RelativePath + "/.namespace", ReadOnlyMemory<byte>.Empty, noReplace: true, ct);
        DirectoryHandle.CreateBelow(Root, ns.RelativePath, 0x1ED).Dispose();
    }

    /// <summary>
    /// Creates the namespace and any missing parent, top down (a backup or commit into a new
    /// namespace); the root and namespaces that exist are left as they are.
    /// </summary>
    public async Task EnsureNamespaceAsync(BackupNamespace ns, CancellationToken ct = default)
    {
        if (ns.IsRoot || NamespaceExists(ns)) return;
        await EnsureNamespaceAsync(ns.Parent!, ct).ConfigureAwait(false);
        await CreateNamespaceAsync(ns, ct).ConfigureAwait(false);
    }

    // ---- groups -----------------------------------------------------------------------------

    public IEnumerable<BackupGroup> ListGroups(BackupNamespace ns)
    {
        var groups = new List<BackupGroup>();
        var nsDir = FullPath(ns.RelativePath);
        foreach (var type in BackupTypes.All)
        {
            var typeDir = Path.Combine(nsDir, type.ToName());
            if (Posix.TryLStat(Posix.PathBytes(typeDir)) is not { IsDirectory: true }) continue;
            foreach (var id in RealSubdirectories(typeDir))
                if (NameRules.IsBackupId(id)) groups.Add(new BackupGroup(ns, type, id));
        }
        groups.Sort(BackupGroup.Compare);
        return groups;
    }

    public bool GroupExists(BackupGroup group) => IsRealDirectory(group.RelativePath);

    public string? GetOwner(BackupGroup group)
    {
        var path = Path.Combine(FullPath(group.RelativePath), OwnerFile);
        string text;
        try { text = Encoding.UTF8.GetString(StoreFile.ReadAll(path, StoreFileLimits.Small)); }
        catch (FileNotFoundException) { return null; }
        int nl = text.IndexOf('\n');
        return (nl >= 0 ? text[..nl] : text).TrimEnd();
    }

    public async Task SetOwnerAsync(BackupGroup group, string owner, CancellationToken ct = default)
    {
        if (owner.Length == 0 || owner.Contains('\n')) throw new InvalidNameException($"invalid owner '{owner}'");
        var bytes = Encoding.UTF8.GetBytes(owner + "\n");
        await Mirror.PutAsync(group.RelativePath + "/" + OwnerFile, bytes, noReplace: false, ct);
        DirectoryHandle.CreateBelow(Root, group.RelativePath, 0x1ED).Dispose(); // refuses a symlinked type or group
        AtomicFile.Write(Path.Combine(FullPath(group.RelativePath), OwnerFile), bytes);
    }

    // ---- snapshots --------------------------------------------------------------------------

    /// <summary>All snapshot directories of a group, oldest first, finished or not.</summary>
    public IReadOnlyList<SnapshotInfo> ListSnapshots(BackupGroup group) => SnapshotDirectories(group).Select(GetSnapshotInfo).ToList();

    /// <summary>
    /// The snapshot directories of a group by name alone, oldest first, finished or not: what a
    /// commit needs (the newest, the newest finished) without listing every snapshot's files, which
    /// made each commit of a group with many snapshots cost in proportion to their number.
    /// </summary>
    public IReadOnlyList<SnapshotRef> SnapshotDirectories(BackupGroup group)
    {
        var result = new List<SnapshotRef>();
        if (!IsRealDirectory(group.RelativePath)) return result;
        foreach (var name in RealSubdirectories(FullPath(group.RelativePath)))
            if (NameRules.TryParseBackupTime(name, out var epoch)) result.Add(new SnapshotRef(group, epoch));
        result.Sort((a, b) => a.BackupTime.CompareTo(b.BackupTime));
        return result;
    }

    /// <summary>Whether the snapshot has its manifest (any entry of that name, as in PBS; see <see cref="GetSnapshotInfo"/>).</summary>
    public bool IsFinished(SnapshotRef snapshot) =>
        Posix.TryLStat(Posix.PathBytes(Path.Combine(FullPath(snapshot.RelativePath), ManifestName))) is not null;

    /// <summary>Finished snapshots only, oldest first: what users see.</summary>
    public IReadOnlyList<SnapshotRef> ListFinishedSnapshots(BackupGroup group) => SnapshotDirectories(group).Where(IsFinished).ToList();

    public SnapshotInfo GetSnapshotInfo(SnapshotRef snapshot)
    {
        var dir = FullPath(snapshot.RelativePath);
        var files = Directory.Exists(dir)
            ? new DirectoryInfo(dir).EnumerateFiles().Where(f => (f.Attributes & FileAttributes.ReparsePoint) == 0).Select(f => f.Name)
                .Where(NameRules.IsArchiveFileName).Order(StringComparer.Ordinal).ToList()
            : new List<string>();
        // Any entry named like the manifest marks it finished (as in PBS); reading a manifest that is not a
        // regular file then fails with a clear error (StoreFile) instead of the snapshot silently vanishing.
        return new SnapshotInfo(snapshot,
            Finished: IsFinished(snapshot),
            Protected: File.Exists(Path.Combine(dir, ProtectedMarker)),
            Files: files);
    }

    public bool SnapshotExists(SnapshotRef snapshot) => IsRealDirectory(snapshot.RelativePath);

    /// <summary>The newest finished snapshot: names only, then a manifest check from the newest down.</summary>
    public SnapshotRef? LatestSnapshot(BackupGroup group)
    {
        var all = SnapshotDirectories(group);
        for (int i = all.Count - 1; i >= 0; i--)
            if (IsFinished(all[i])) return all[i];
        return null;
    }

    /// <summary>Every group of every namespace (root first).</summary>
    public IEnumerable<BackupGroup> ListAllGroups()
    {
        foreach (var g in ListGroups(BackupNamespace.Root)) yield return g;
        foreach (var ns in ListNamespaces(BackupNamespace.Root, recursive: true))
            foreach (var g in ListGroups(ns)) yield return g;
    }
}
