using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// What a commit writes: the session tree as it was at one instant, taken under the session gate
/// by copying the state of every inode known in memory (directories never listed are still the
/// base's and are read from the base archive). The spool files it names are pinned by the
/// session until the commit ends, so the session goes on taking lookups and changes while the
/// commit chunks and uploads from this view.
/// </summary>
internal sealed class FrozenTree : ISnapshotTreeSource
{
    private readonly PxarAccessor? _base;
    private readonly Dictionary<long, FrozenInode> _baseFiles;
    private readonly Task<Dictionary<long, int>>? _linkCounts;

    private FrozenTree(FrozenInode root, PxarAccessor? baseAccessor, Dictionary<long, FrozenInode> baseFiles,
        Task<Dictionary<long, int>>? linkCounts, List<string> spoolFiles)
    {
        _base = baseAccessor;
        _baseFiles = baseFiles;
        _linkCounts = linkCounts;
        SpoolFiles = spoolFiles;
        _root = root;
        Root = Describe([], root, null);
    }

    private readonly FrozenInode _root;
    public SourceNode Root { get; private set; }
    /// <summary>The spool files the view reads (pinned until the commit ends).</summary>
    public IReadOnlyList<string> SpoolFiles { get; }

    /// <summary>Copies the tree's state; no I/O, under the session gate.</summary>
    public static FrozenTree Freeze(SessionTree tree)
    {
        var frozen = new Dictionary<StagedInode, FrozenInode>(ReferenceEqualityComparer.Instance);
        var spoolFiles = new List<string>();
        FrozenInode Of(StagedInode inode)
        {
            if (frozen.TryGetValue(inode, out var known)) return known;
            var f = new FrozenInode(inode);
            frozen[inode] = f;
            if (f.SpoolPath is { } path) spoolFiles.Add(path);
            return f;
        }
        // Its own stack: the depth is the tree's, never the thread's.
        var root = Of(tree.Root);
        var pending = new Stack<(StagedInode, FrozenInode)>();
        pending.Push((tree.Root, root));
        while (pending.TryPop(out var at))
        {
            var (dir, f) = at;
            if (dir.Children is not { } children) continue;
            var list = new (byte[], FrozenInode)[children.Count];
            int i = 0;
            foreach (var (key, child) in children)
            {
                bool seen = frozen.ContainsKey(child);
                var c = Of(child);
                list[i++] = (StagedInode.NameOf(key), c);
                if (!seen && child.IsDirectory) pending.Push((child, c));
            }
            f.Children = list;
        }
        var baseFiles = new Dictionary<long, FrozenInode>();
        foreach (var (identity, inode) in tree.BaseFiles) baseFiles[identity] = Of(inode);
        return new FrozenTree(root, tree.Base, baseFiles, tree.Base is null ? null : tree.BaseLinkCounts(), spoolFiles);
    }

    /// <summary>Reads the root's metadata (outside the gate: it may come from the base archive).</summary>
    public async ValueTask<FrozenTree> ReadRootMetadataAsync(CancellationToken ct)
    {
        Root = Describe([], _root, await MetadataAsync(_root, ct).ConfigureAwait(false));
        return this;
    }

    public async ValueTask<IReadOnlyList<SourceNode>> ListAsync(SourceNode directory, CancellationToken ct)
    {
        if (directory.Handle is FrozenInode { Children: { } children })
        {
            var list = new List<SourceNode>(children.Length);
            foreach (var (name, child) in children)
                list.Add(Describe(name, child, await MetadataAsync(child, ct).ConfigureAwait(false)));
            return list;
        }
        var entry = directory.Handle switch
        {
            FrozenInode f => f.BaseEntry,
            PxarEntry e => e,
            _ => null,
        };
        if (entry is null || _base is null) return [];
        var entries = await _base.ListDirectoryAsync(entry, ct).ConfigureAwait(false);
        var counts = await _linkCounts!.ConfigureAwait(false);
        var nodes = new List<SourceNode>(entries.Count);
        foreach (var e in entries) nodes.Add(await DescribeBaseAsync(e, counts, ct).ConfigureAwait(false));
        return nodes;
    }

    /// <summary>A staged file's payload cut in the background from exactly the content frozen here.</summary>
    public PreparedPayload? PreparedPayloadOf(SourceNode file) =>
        file.Handle is FrozenInode { SpoolPath: not null, Prepared: { } prepared } f && prepared.ContentSize == f.Size ? prepared : null;

    public ValueTask<Stream> OpenAsync(SourceNode file, CancellationToken ct)
    {
        var (spool, entry) = file.Handle switch
        {
            FrozenInode f => (f.SpoolPath, f.BaseEntry),
            PxarEntry e => (null, e),
            _ => (null, null),
        };
        if (spool is not null)
            return ValueTask.FromResult<Stream>(new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous));
        if (entry is { Kind: PxarEntryKind.File } && _base is not null) return ValueTask.FromResult(_base.OpenFileStream(entry));
        return ValueTask.FromResult<Stream>(new MemoryStream([], writable: false));
    }

    /// <summary>An entry of a directory nobody listed: as the base has it, unless it is a hardlinked file the session knows.</summary>
    private async ValueTask<SourceNode> DescribeBaseAsync(PxarEntry entry, Dictionary<long, int> counts, CancellationToken ct)
    {
        var name = entry.Name;
        if (entry.Kind == PxarEntryKind.Hardlink) entry = await _base!.FollowHardlinkAsync(entry, ct).ConfigureAwait(false);
        if (entry.Kind == PxarEntryKind.File && _baseFiles.TryGetValue(entry.Identity, out var known))
            return Describe(name, known, await MetadataAsync(known, ct).ConfigureAwait(false));
        bool symlink = entry.Kind == PxarEntryKind.Symlink;
        return new SourceNode
        {
            Name = name,
            Stat = PxarPosixMetadata.StatOf(PxarPosixMetadata.ModeOf(entry), entry.Stat.Uid, entry.Stat.Gid, entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds),
            Metadata = symlink ? new PxarMetadata() : await _base!.ReadMetadataAsync(entry, ct).ConfigureAwait(false),
            Size = entry.Kind == PxarEntryKind.File ? entry.Size : 0,
            SymlinkTarget = symlink ? entry.LinkTarget ?? [] : null,
            DeviceMajor = entry.DeviceMajor,
            DeviceMinor = entry.DeviceMinor,
            HardlinkKey = entry.Kind == PxarEntryKind.File && counts.TryGetValue(entry.Identity, out int links) && links > 1 ? entry.Identity : null,
            Handle = entry,
        };
    }

    private async ValueTask<PxarMetadata> MetadataAsync(FrozenInode f, CancellationToken ct)
    {
        if (f.FileType == FileModes.Symlink) return new PxarMetadata(); // PBS stores no xattrs for symlinks
        if (f.Xattrs is null && f.BaseEntry is { } entry && _base is not null)
            return await _base.ReadMetadataAsync(entry, ct).ConfigureAwait(false);
        return PxarPosixMetadata.FromXattrs(f.Xattrs ?? [], f.FileType == FileModes.Directory);
    }

    private static SourceNode Describe(byte[] name, FrozenInode f, PxarMetadata? metadata) => new()
    {
        Name = name,
        Stat = PxarPosixMetadata.StatOf(f.Mode, f.Uid, f.Gid, f.ModificationTime.Seconds, f.ModificationTime.Nanoseconds),
        Metadata = metadata ?? new PxarMetadata(),
        Size = f.FileType == FileModes.Regular ? f.Size : 0,
        SymlinkTarget = f.SymlinkTarget,
        DeviceMajor = f.DeviceMajor,
        DeviceMinor = f.DeviceMinor,
        HardlinkKey = f.FileType == FileModes.Regular && f.LinkCount > 1 ? f : null,
        Handle = f,
    };
}

/// <summary>One inode's state at the freeze (shared by its names, so hardlinks stay one inode).</summary>
internal sealed class FrozenInode
{
    public FrozenInode(StagedInode inode)
    {
        var a = inode.Attributes();
        Mode = a.Mode;
        Uid = a.Uid;
        Gid = a.Gid;
        ModificationTime = a.ModificationTime;
        LinkCount = a.LinkCount;
        Size = inode.Size;
        SymlinkTarget = inode.SymlinkTarget;
        DeviceMajor = inode.DeviceMajor;
        DeviceMinor = inode.DeviceMinor;
        BaseEntry = inode.BaseEntry;
        SpoolPath = inode.SpoolPath;
        Prepared = inode.PreparedPayload;
        Xattrs = inode.Xattrs is { } list ? [.. list] : null;
    }

    public uint Mode { get; }
    public uint FileType => Mode & FileModes.TypeMask;
    public uint Uid { get; }
    public uint Gid { get; }
    public Timestamp ModificationTime { get; }
    public uint LinkCount { get; }
    public long Size { get; }
    public byte[]? SymlinkTarget { get; }
    public ulong DeviceMajor { get; }
    public ulong DeviceMinor { get; }
    public PxarEntry? BaseEntry { get; }
    public string? SpoolPath { get; }
    /// <summary>The content's payload as prepared in the background, if it still matches.</summary>
    public PreparedPayload? Prepared { get; }
    /// <summary>null: still the base entry's.</summary>
    public List<(byte[] Name, byte[] Value)>? Xattrs { get; }
    /// <summary>Children by name; null for a directory still as the base has it.</summary>
    public (byte[] Name, FrozenInode Inode)[]? Children { get; set; }
}
