using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// One node of the mounted tree. Directories list and look up children; files open handles;
/// symlinks have a target. Node ids are handed out by the <see cref="NodeTable"/> when the
/// kernel first learns of a node; <see cref="StableInode"/> is what stat shows, and stays the
/// same for the same entry across lookups (hardlinks share it).
/// </summary>
public abstract class TreeNode
{
    /// <summary>Kernel node id; 0 until the node is registered.</summary>
    public ulong Id { get; internal set; }
    internal ulong LookupCount;
    public DirectoryNode? Parent { get; }
    public byte[] Name { get; }
    public abstract ulong StableInode { get; }
    /// <summary>True for nodes inside a snapshot: immutable, cached long by the kernel.</summary>
    public abstract bool Immutable { get; }

    protected TreeNode(DirectoryNode? parent, byte[] name)
    {
        Parent = parent;
        Name = name;
    }

    public abstract ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct);

    /// <summary>Extended attributes (name, value); none by default.</summary>
    public virtual ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct) =>
        ValueTask.FromResult<IReadOnlyList<(byte[], byte[])>>([]);

    /// <summary>Called when the kernel forgot the node: drop it from caches.</summary>
    internal virtual void Detached() => Parent?.ForgetChild(this);
}

/// <summary>A directory: children by name, listed in a stable order.</summary>
public abstract class DirectoryNode : TreeNode
{
    /// <summary>Children the kernel may hold, so the same entry keeps the same node; made on first use.</summary>
    private Dictionary<byte[], TreeNode>? _children;

    protected DirectoryNode(DirectoryNode? parent, byte[] name) : base(parent, name) { }

    /// <summary>The current children, sorted by name bytes.</summary>
    public abstract ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct);

    /// <summary>The children as fixed at opendir, read page by page (readdir cookies are positions in it).</summary>
    public virtual async ValueTask<DirectoryListing> OpenListingAsync(CancellationToken ct) =>
        new NodeListing(await ListAsync(ct).ConfigureAwait(false));

    /// <summary>One child by name, or null.</summary>
    public virtual async ValueTask<TreeNode?> LookupAsync(byte[] name, CancellationToken ct)
    {
        foreach (var child in await ListAsync(ct).ConfigureAwait(false))
            if (child.Name.AsSpan().SequenceEqual(name)) return child;
        return null;
    }

    /// <summary>Returns the cached child of that name, or caches the one <paramref name="create"/> makes.</summary>
    protected TreeNode Child(byte[] name, Func<TreeNode> create, Func<TreeNode, bool>? stillValid = null)
    {
        lock (NodeTable.TreeLock)
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
        lock (NodeTable.TreeLock)
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
        lock (NodeTable.TreeLock)
            return _children is { } children && children.TryGetValue(name, out var node) ? node : null;
    }

    internal void ForgetChild(TreeNode child)
    {
        lock (NodeTable.TreeLock)
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

/// <summary>A regular file whose bytes are read through per-open handles.</summary>
public abstract class FileNode : TreeNode
{
    protected FileNode(DirectoryNode? parent, byte[] name) : base(parent, name) { }
    public abstract ValueTask<IFileHandle> OpenAsync(CancellationToken ct);
}

/// <summary>An open file.</summary>
public interface IFileHandle : IDisposable
{
    ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct);
}

/// <summary>A symbolic link.</summary>
public abstract class LinkNode : TreeNode
{
    protected LinkNode(DirectoryNode? parent, byte[] name) : base(parent, name) { }
    public abstract ValueTask<byte[]> ReadTargetAsync(CancellationToken ct);
}
