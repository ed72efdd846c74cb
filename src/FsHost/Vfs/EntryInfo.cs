namespace BackupFs.FsHost.Vfs;

/// <summary>
/// The answer to a lookup (and to create, mkdir, mknod, symlink, link): the node, its attributes
/// and how long the kernel may cache the name and the attributes. Each successful entry reply
/// adds one to the node's lookup count, which the kernel later returns through
/// <see cref="IFileSystem.Forget"/>. A <see cref="NodeId"/> of 0 is a cacheable negative entry:
/// the name does not exist, and the kernel remembers that for <see cref="EntryTimeout"/>.
/// </summary>
public struct EntryInfo
{
    /// <summary>The node id; 0 for a negative entry. The root is node 1.</summary>
    public ulong NodeId;
    /// <summary>Distinguishes reuses of the same node id over the mount's lifetime.</summary>
    public ulong Generation;
    public NodeAttributes Attributes;
    /// <summary>How long the name may be cached (long for immutable trees).</summary>
    public TimeSpan EntryTimeout;
    /// <summary>How long the attributes may be cached.</summary>
    public TimeSpan AttributeTimeout;

    /// <summary>A negative entry the kernel may cache for <paramref name="timeout"/>.</summary>
    public static EntryInfo Negative(TimeSpan timeout) => new() { EntryTimeout = timeout };
}

/// <summary>The answer to getattr and setattr.</summary>
public struct AttributeInfo
{
    public NodeAttributes Attributes;
    /// <summary>How long the attributes may be cached.</summary>
    public TimeSpan AttributeTimeout;

    public AttributeInfo(NodeAttributes attributes, TimeSpan timeout) { Attributes = attributes; AttributeTimeout = timeout; }
}
