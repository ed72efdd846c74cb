using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// A node of the read-only snapshot tree: named within its parent directory, immutable inside
/// snapshots (cached long by the kernel) and changing above them. Every tree node has xattrs
/// (none by default) and the datastore's statfs; directories, files and symlinks add their
/// capabilities below. <see cref="Node.StableInode"/> stays the same for the same entry across
/// lookups (hardlinks share it).
/// </summary>
public abstract class TreeNode : Node, INodeXattrReader, INodeStatistics
{
    public DirectoryNode? Parent { get; }
    public byte[] Name { get; }
    /// <summary>The mount's datastore, options and error log (the root's, handed down).</summary>
    public TreeContext Context { get; }
    /// <summary>True for nodes inside a snapshot: immutable, cached long by the kernel.</summary>
    public abstract bool Immutable { get; }

    /// <param name="context">the mount's context; only the root passes it, the others take their parent's</param>
    protected TreeNode(DirectoryNode? parent, byte[] name, TreeContext? context = null)
    {
        Parent = parent;
        Name = name;
        Context = context ?? parent?.Context ?? throw new ArgumentNullException(nameof(context), "the root needs the mount's context");
    }

    public override ulong ParentInode => Parent?.StableInode ?? StableInode;

    public override TimeSpan CacheTimeout => Immutable ? Context.Options.ImmutableTimeout : Context.Options.ChangingTimeout;

    /// <summary>Extended attributes (name, value); none by default.</summary>
    public virtual ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct) =>
        ValueTask.FromResult<IReadOnlyList<(byte[], byte[])>>([]);

    public async ValueTask<VfsResult<int>> GetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Memory<byte> destination)
    {
        var xattrs = await GetXattrsAsync(ctx.SessionEnding).ConfigureAwait(false);
        return XattrReplies.Value(xattrs.FirstOrDefault(x => x.Name.AsSpan().SequenceEqual(name.Span)).Value, destination);
    }

    public async ValueTask<VfsResult<int>> ListXattrAsync(RequestContext ctx, Memory<byte> destination) =>
        XattrReplies.Names(await GetXattrsAsync(ctx.SessionEnding).ConfigureAwait(false), destination);

    /// <summary>The datastore's disk; read-only, so nothing is available to write.</summary>
    public VfsResult<FileSystemStatistics> GetStatistics(int knownNodes)
    {
        var drive = new DriveInfo(Context.Store.Root);
        const uint block = 4096;
        ulong total = (ulong)drive.TotalSize / block, free = (ulong)drive.TotalFreeSpace / block;
        return new FileSystemStatistics(total, free, 0, (ulong)knownNodes, 0, block);
    }

    /// <summary>The kernel forgot the node: the parent's cache lets it go.</summary>
    protected internal override void Forgotten() => Parent?.ForgetChild(this);
}

/// <summary>A directory: children by name, listed in a stable order.</summary>
public abstract class DirectoryNode : TreeNode, INodeLookup, INodeDirectoryOpener
{
    /// <summary>Children the kernel may hold, so the same entry keeps the same node; made on first use.</summary>
    private Dictionary<byte[], TreeNode>? _children;

    protected DirectoryNode(DirectoryNode? parent, byte[] name, TreeContext? context = null) : base(parent, name, context) { }

    /// <summary>The current children, sorted by name bytes.</summary>
    public abstract ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct);

    /// <summary>The children as fixed at opendir, read page by page (readdir cookies are positions in it).</summary>
    public virtual async ValueTask<DirectoryListing> OpenListingAsync(CancellationToken ct) =>
        NodeListing.Of(await ListAsync(ct).ConfigureAwait(false));

    /// <summary>One child by name, or null.</summary>
    public virtual async ValueTask<Node?> LookupAsync(byte[] name, CancellationToken ct)
    {
        foreach (var child in await ListAsync(ct).ConfigureAwait(false))
            if (child.Name.AsSpan().SequenceEqual(name)) return child;
        return null;
    }

    public async ValueTask<VfsResult<Node?>> LookupAsync(RequestContext ctx, ReadOnlyMemory<byte> name) =>
        VfsResult<Node?>.Ok(await LookupAsync(name.ToArray(), ctx.SessionEnding).ConfigureAwait(false));

    public TimeSpan MissTimeout => CacheTimeout;

    public async ValueTask<VfsResult<OpenedDirectory>> OpenDirectoryAsync(RequestContext ctx)
    {
        // The listing is fixed at opendir, so readdir cookies (positions in it) stay stable.
        var listing = await OpenListingAsync(ctx.SessionEnding).ConfigureAwait(false);
        return new OpenedDirectory(new TreeDirectoryReader(listing, Context.Errnos),
            Immutable ? OpenOptions.CacheDirectory | OpenOptions.KeepCache : OpenOptions.None);
    }

    /// <summary>Returns the cached child of that name, or caches the one <paramref name="create"/> makes.</summary>
    protected TreeNode Child(byte[] name, Func<TreeNode> create, Func<TreeNode, bool>? stillValid = null)
    {
        lock (Context.ChildCacheLock)
        {
            var children = _children ??= new Dictionary<byte[], TreeNode>(NameComparer.Instance);
            if (children.TryGetValue(name, out var existing) && (stillValid is null || stillValid(existing))) return existing;
            var node = create();
            children[name] = node;
            return node;
        }
    }

    /// <summary>The cached node for <paramref name="node"/>'s name if there is one, else caches <paramref name="node"/>:
    /// listings make throwaway nodes, and only one that the kernel is told about must be kept.</summary>
    internal TreeNode Adopt(TreeNode node)
    {
        lock (Context.ChildCacheLock)
        {
            var children = _children ??= new Dictionary<byte[], TreeNode>(NameComparer.Instance);
            if (children.TryGetValue(node.Name, out var existing)) return existing;
            children[node.Name] = node;
            return node;
        }
    }

    /// <summary>The cached child of that name, if the tree made one.</summary>
    internal TreeNode? CachedChild(byte[] name)
    {
        lock (Context.ChildCacheLock)
            return _children is { } children && children.TryGetValue(name, out var node) ? node : null;
    }

    internal void ForgetChild(TreeNode child)
    {
        lock (Context.ChildCacheLock)
            if (_children is { } children && children.TryGetValue(child.Name, out var cached) && ReferenceEquals(cached, child))
                children.Remove(child.Name);
    }

    /// <summary>Names as raw bytes (file names need not be UTF-8).</summary>
    private sealed class NameComparer : IEqualityComparer<byte[]>
    {
        public static readonly NameComparer Instance = new();
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] name) => (int)System.IO.Hashing.XxHash3.HashToUInt64(name);
    }
}

/// <summary>A regular file whose bytes are read through per-open handles; never writable.</summary>
public abstract class FileNode : TreeNode, INodeOpener
{

    protected FileNode(DirectoryNode? parent, byte[] name) : base(parent, name) { }

    /// <summary>A new open of the file: an <see cref="IOpenFile"/> that is an <see cref="IFileReader"/>.</summary>
    public abstract ValueTask<IOpenFile> OpenReaderAsync(CancellationToken ct);

    public async ValueTask<VfsResult<OpenedFile>> OpenAsync(RequestContext ctx, int flags)
    {
        if (Datastore.Platform.OpenFlags.Writes(flags)) return Errno.EROFS;
        // Snapshot files never change: keep the page cache across opens.
        return new OpenedFile(await OpenReaderAsync(ctx.SessionEnding).ConfigureAwait(false), OpenOptions.KeepCache);
    }
}

/// <summary>A symbolic link.</summary>
public abstract class LinkNode : TreeNode, INodeLinkReader
{
    protected LinkNode(DirectoryNode? parent, byte[] name) : base(parent, name) { }
    public abstract ValueTask<byte[]> ReadTargetAsync(CancellationToken ct);

    public async ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLinkAsync(RequestContext ctx) =>
        (ReadOnlyMemory<byte>)await ReadTargetAsync(ctx.SessionEnding).ConfigureAwait(false);
}
