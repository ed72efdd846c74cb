using BackupFs.Datastore.Pxar;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Staging.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>What a staged inode is within the staging tree.</summary>
public enum StagedRole
{
    /// <summary>staging/, staging/ns, staging/ns/&lt;name&gt;, staging/&lt;type&gt;: directories that only hold sessions.</summary>
    Virtual,
    /// <summary>staging/[ns/...]&lt;type&gt;/&lt;id&gt;: the root of one group's session (the archive root).</summary>
    SessionRoot,
    /// <summary>Anything inside a session.</summary>
    Entry,
}

/// <summary>One name of an inode: the directory holding it and the name there.</summary>
public readonly record struct StagedLink(StagedInode Parent, byte[] Name);

/// <summary>
/// One inode of a staging session (or of the virtual directories above sessions): its current
/// metadata and where its content is, either still in the base snapshot (<see cref="BaseEntry"/>)
/// or spooled to a file on disk (<see cref="SpoolPath"/>). Hardlinked names share one instance.
/// Fields are guarded by the owning session's gate; the kernel sees it through its
/// <see cref="MountNode"/>.
/// </summary>
public sealed class StagedInode
{
    public StagedInode(StagingSession? session, StagedRole role, ulong number, uint mode)
    {
        Session = session;
        Role = role;
        _number = number;
        Mode = mode;
    }

    public StagingSession? Session { get; }
    public StagedRole Role { get; }
    /// <summary>Session-unique number (the journal refers to inodes by it; also seeds st_ino).</summary>
    public ulong Number
    {
        get => _number;
        internal set { _number = value; _stableInode = 0; }
    }
    private ulong _number;

    public uint Mode;
    public uint Uid, Gid;
    public ulong DeviceMajor, DeviceMinor;
    public Timestamp AccessTime, ModificationTime, ChangeTime;
    public long Size;
    public byte[]? SymlinkTarget;

    /// <summary>The base snapshot's entry this inode came from (a hardlink's target for files); null for new inodes.</summary>
    public PxarEntry? BaseEntry;
    /// <summary>Names of this inode in the base snapshot not materialized yet (hardlinks in unlisted directories).</summary>
    public int PendingBaseLinks;
    /// <summary>Extended attributes in order; null while they are still the base entry's (not loaded).</summary>
    public List<(byte[] Name, byte[] Value)>? Xattrs;
    /// <summary>The spool file holding the content, once written to (copy-on-write from the base).</summary>
    public string? SpoolPath;
    /// <summary>Directory children by name (Latin-1 key of the raw bytes); null until listed from the base.</summary>
    public Dictionary<string, StagedInode>? Children;
    /// <summary>Names of this inode; one for directories.</summary>
    public readonly List<StagedLink> Links = new(1);
    /// <summary>Open handles, and those among them that may write.</summary>
    public int OpenHandles, OpenWriters;
    /// <summary>The journal epoch in which this inode's number was recorded.</summary>
    internal long BoundEpoch = -1;

    /// <summary>The node the mount serves this inode as; made on first use (see <see cref="StagingNodes.For"/>).</summary>
    internal StagedNode? MountNode;

    /// <summary>For <see cref="StagedRole.Virtual"/> directories: what they are.</summary>
    public VirtualDirectory? Virtual;

    public uint FileType => Mode & FileModes.TypeMask;
    public bool IsDirectory => FileType == FileModes.Directory;
    public bool IsRegular => FileType == FileModes.Regular;

    /// <summary>Child directories (kept up to date by the session, for the directory's link count).</summary>
    internal int Subdirectories;

    public uint LinkCount => IsDirectory ? 2u + (uint)Subdirectories : (uint)(Links.Count + PendingBaseLinks);

    private ulong _stableInode;

    /// <summary>st_ino: from the session and the inode's number (fixed once the kernel has seen the inode).</summary>
    public ulong StableInode => _stableInode != 0 ? _stableInode : _stableInode = Session is null
        ? StableInodes.Of("staging-virtual:" + (Virtual?.Key ?? ""))
        : StableInodes.Of("staging:" + Session.Group.RelativePath, (long)Number);

    public NodeAttributes Attributes() => new()
    {
        Inode = StableInode,
        Mode = Mode,
        LinkCount = LinkCount,
        Uid = Uid,
        Gid = Gid,
        Size = IsDirectory ? 0 : (ulong)Math.Max(0, Size),
        Rdev = DeviceNumbers.Encode(DeviceMajor, DeviceMinor),
        AccessTime = AccessTime,
        ModificationTime = ModificationTime,
        ChangeTime = ChangeTime,
    };

    /// <summary>Marks the content and metadata changed now.</summary>
    public void Touch(Timestamp now)
    {
        ModificationTime = now;
        ChangeTime = now;
    }

    /// <summary>Dictionary key for a raw name (Latin-1 maps bytes to chars one to one).</summary>
    public static string Key(ReadOnlySpan<byte> name) => System.Text.Encoding.Latin1.GetString(name);
    public static byte[] NameOf(string key) => System.Text.Encoding.Latin1.GetBytes(key);

    public override string ToString() => $"staged #{Number} {Role} mode {Convert.ToString(Mode, 8)}";
}

/// <summary>A directory above the sessions: its path below staging/ and the children made so far.</summary>
public sealed class VirtualDirectory(IReadOnlyList<string> components, StagingPathKind kind)
{
    public IReadOnlyList<string> Components { get; } = components;
    public StagingPathKind Kind { get; } = kind;
    public string Key { get; } = string.Join('/', components);
    /// <summary>Children created or looked up so far, by name; sessions and sub-directories.</summary>
    public Dictionary<string, StagedInode> Children { get; } = new(StringComparer.Ordinal);
}
