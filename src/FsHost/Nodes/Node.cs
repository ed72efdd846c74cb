using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Nodes;

/// <summary>
/// One node of a mounted tree, as the <see cref="NodeHost"/> serves it. Every node has
/// attributes; everything else a node can do it declares by implementing the capability
/// interfaces (<see cref="INodeLookup"/>, <see cref="INodeOpener"/>, <see cref="INodeCreator"/>…).
/// The host asks for a capability and answers ENOSYS, EROFS or the errno POSIX prescribes
/// when the node lacks it. The node id and lookup count are the host's bookkeeping.
/// </summary>
public abstract class Node
{
    /// <summary>The kernel's id for this node; 0 until the host first hands it out.</summary>
    public ulong NodeId { get; internal set; }

    /// <summary>Entry replies the kernel still holds (guarded by the host's registry).</summary>
    internal ulong LookupCount;

    /// <summary>st_ino; the same for the same entry across lookups (hardlinks share it).</summary>
    public abstract ulong StableInode { get; }

    /// <summary>st_ino of the directory holding this one, for its ".." entry; its own where there is none.</summary>
    public virtual ulong ParentInode => StableInode;

    /// <summary>How long the kernel may cache this node's name and attributes.</summary>
    public abstract TimeSpan CacheTimeout { get; }

    public abstract ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct);

    /// <summary>The kernel forgot the node (its lookup count reached zero): drop it from caches.</summary>
    protected internal virtual void Forgotten() { }
}
