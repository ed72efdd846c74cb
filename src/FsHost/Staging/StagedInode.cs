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
/// All state is private and follows the session's locking rule (see <see cref="StagingSession"/>):
/// each member reads or writes under the inode's own lock, so attributes can be read from
/// anywhere; changes happen under the session gate (data writes excepted), and the directory
/// and xattr collections are only touched under the gate.
/// The kernel sees it through its <see cref="MountNode"/>.
/// </summary>
public sealed class StagedInode
{
    private readonly Lock _sync = new();
    private ulong _number;
    private uint _mode, _uid, _gid;
    private ulong _major, _minor;
    private Timestamp _atime, _mtime, _ctime;
    private long _size;
    private byte[]? _symlinkTarget;
    private PxarEntry? _baseEntry;
    private int _pendingBaseLinks;
    private string? _spoolPath;
    private long _contentVersion;
    private (Datastore.Writing.PreparedPayload Payload, long Version)? _prepared;
    private int _preparedCount;
    private (long Size, Timestamp Mtime)? _spoolSeen;
    private int _openHandles, _openWriters, _subdirectories;
    private long _boundEpoch = -1;
    private ulong _stableInode;
    private readonly List<StagedLink> _links = new(1);

    public StagedInode(StagingSession? session, StagedRole role, ulong number, uint mode)
    {
        Session = session;
        Role = role;
        _number = number;
        _mode = mode;
    }

    public StagingSession? Session { get; }
    public StagedRole Role { get; }

    /// <summary>Session-unique number (the journal refers to inodes by it; also seeds st_ino).</summary>
    public ulong Number
    {
        get { lock (_sync) return _number; }
        internal set { lock (_sync) { _number = value; _stableInode = 0; } }
    }

    public uint Mode { get { lock (_sync) return _mode; } internal set { lock (_sync) _mode = value; } }
    public uint Uid { get { lock (_sync) return _uid; } internal set { lock (_sync) _uid = value; } }
    public uint Gid { get { lock (_sync) return _gid; } internal set { lock (_sync) _gid = value; } }
    public ulong DeviceMajor { get { lock (_sync) return _major; } internal set { lock (_sync) _major = value; } }
    public ulong DeviceMinor { get { lock (_sync) return _minor; } internal set { lock (_sync) _minor = value; } }
    public Timestamp AccessTime { get { lock (_sync) return _atime; } internal set { lock (_sync) _atime = value; } }
    public Timestamp ModificationTime { get { lock (_sync) return _mtime; } internal set { lock (_sync) _mtime = value; } }
    public Timestamp ChangeTime { get { lock (_sync) return _ctime; } internal set { lock (_sync) _ctime = value; } }
    public long Size { get { lock (_sync) return _size; } internal set { lock (_sync) { if (_size != value) _contentVersion++; _size = value; } } }
    public byte[]? SymlinkTarget { get { lock (_sync) return _symlinkTarget; } internal set { lock (_sync) _symlinkTarget = value; } }

    /// <summary>The base snapshot's entry this inode came from (a hardlink's target for files); null for new inodes.</summary>
    public PxarEntry? BaseEntry { get { lock (_sync) return _baseEntry; } internal set { lock (_sync) _baseEntry = value; } }
    /// <summary>Names of this inode in the base snapshot not materialized yet (hardlinks in unlisted directories).</summary>
    public int PendingBaseLinks { get { lock (_sync) return _pendingBaseLinks; } internal set { lock (_sync) _pendingBaseLinks = value; } }
    /// <summary>The spool file holding the content, once written to (copy-on-write from the base).</summary>
    public string? SpoolPath { get { lock (_sync) return _spoolPath; } internal set { lock (_sync) { _contentVersion++; _spoolPath = value; _spoolSeen = null; } } }

    /// <summary>Spool file, size, content version and writers, read together.</summary>
    internal (string? Spool, long Size, long Version, int Writers) ContentState()
    {
        lock (_sync) return (_spoolPath, _size, _contentVersion, _openWriters);
    }

    /// <summary>Moves on with every change of the content (write, size, spool file): what a prepared payload was cut from.</summary>
    internal long ContentVersion { get { lock (_sync) return _contentVersion; } }

    /// <summary>The content's payload item, cut and stored in the background, while the content is still what it was cut from.</summary>
    internal Datastore.Writing.PreparedPayload? PreparedPayload
    {
        get { lock (_sync) return _prepared is { } p && p.Version == _contentVersion ? p.Payload : null; }
    }

    /// <summary>Keeps <paramref name="payload"/> if the content is still at <paramref name="version"/> (false: it changed meanwhile).</summary>
    internal bool SetPreparedPayload(Datastore.Writing.PreparedPayload payload, long version)
    {
        lock (_sync)
        {
            if (version != _contentVersion) return false;
            _prepared = (payload, version);
            _preparedCount++;
            return true;
        }
    }

    /// <summary>How many times a content of this inode was prepared (a file changed again after it waits longer).</summary>
    internal int PreparedCount { get { lock (_sync) return _preparedCount; } }
    /// <summary>Open handles, and those among them that may write.</summary>
    public int OpenHandles { get { lock (_sync) return _openHandles; } internal set { lock (_sync) _openHandles = value; } }
    public int OpenWriters { get { lock (_sync) return _openWriters; } internal set { lock (_sync) _openWriters = value; } }
    /// <summary>The journal epoch in which this inode's number was recorded.</summary>
    internal long BoundEpoch { get { lock (_sync) return _boundEpoch; } set { lock (_sync) _boundEpoch = value; } }
    /// <summary>Child directories (kept up to date by the session tree, for the directory's link count).</summary>
    internal int Subdirectories { get { lock (_sync) return _subdirectories; } set { lock (_sync) _subdirectories = value; } }

    /// <summary>Extended attributes in order; null while they are still the base entry's (not loaded). Under the session gate only.</summary>
    internal List<(byte[] Name, byte[] Value)>? Xattrs { get; set; }
    /// <summary>Directory children by name (Latin-1 key of the raw bytes); null until listed from the base. Under the session gate only.</summary>
    internal Dictionary<string, StagedInode>? Children { get; set; }

    /// <summary>The node the mount serves this inode as; made on first use (see <see cref="StagingNodes.For"/>).</summary>
    internal StagedNode? MountNode;

    /// <summary>For <see cref="StagedRole.Virtual"/> directories: what they are.</summary>
    public VirtualDirectory? Virtual { get; init; }

    public uint FileType => Mode & FileModes.TypeMask;
    public bool IsDirectory => FileType == FileModes.Directory;
    public bool IsRegular => FileType == FileModes.Regular;

    // ---- names ----

    /// <summary>The names of this inode now (a copy); one for directories.</summary>
    public IReadOnlyList<StagedLink> Links { get { lock (_sync) return _links.ToArray(); } }
    public int LinkNames { get { lock (_sync) return _links.Count; } }
    /// <summary>The first name (a directory's only one), if any.</summary>
    public StagedLink? FirstLink { get { lock (_sync) return _links.Count > 0 ? _links[0] : null; } }

    internal void AddLink(StagedLink link) { lock (_sync) _links.Add(link); }

    internal void RemoveLink(StagedInode dir, ReadOnlySpan<byte> name)
    {
        lock (_sync)
        {
            for (int i = 0; i < _links.Count; i++)
                if (_links[i].Parent == dir && _links[i].Name.AsSpan().SequenceEqual(name)) { _links.RemoveAt(i); return; }
        }
    }

    internal void Relink(StagedInode oldDir, ReadOnlySpan<byte> oldName, StagedLink link)
    {
        lock (_sync)
        {
            for (int i = 0; i < _links.Count; i++)
                if (_links[i].Parent == oldDir && _links[i].Name.AsSpan().SequenceEqual(oldName)) { _links[i] = link; return; }
            _links.Add(link);
        }
    }

    /// <summary>No name left, none pending in the base: the content can go once nobody has it open.</summary>
    internal bool Nameless { get { lock (_sync) return _links.Count == 0 && _pendingBaseLinks == 0; } }

    public uint LinkCount
    {
        get
        {
            lock (_sync)
                return (_mode & FileModes.TypeMask) == FileModes.Directory ? 2u + (uint)_subdirectories : (uint)(_links.Count + _pendingBaseLinks);
        }
    }

    /// <summary>st_ino: from the session and the inode's number (fixed once the kernel has seen the inode).</summary>
    public ulong StableInode
    {
        get
        {
            lock (_sync)
            {
                if (_stableInode != 0) return _stableInode;
                return _stableInode = Session is null
                    ? StableInodes.Of("staging-virtual:" + (Virtual?.Key ?? ""))
                    : StableInodes.Of("staging:" + Session.Group.RelativePath, (long)_number);
            }
        }
    }


    /// <summary>All attributes at one instant.</summary>
    public NodeAttributes Attributes()
    {
        ulong inode = StableInode;
        uint links = LinkCount;
        lock (_sync)
            return new NodeAttributes
            {
                Inode = inode,
                Mode = _mode,
                LinkCount = links,
                Uid = _uid,
                Gid = _gid,
                Size = (_mode & FileModes.TypeMask) == FileModes.Directory ? 0 : (ulong)Math.Max(0, _size),
                Rdev = PxarPosixMetadata.EncodeDevice(_major, _minor),
                AccessTime = _atime,
                ModificationTime = _mtime,
                ChangeTime = _ctime,
            };
    }

    /// <summary>Marks the content and metadata changed now.</summary>
    public void Touch(Timestamp now)
    {
        lock (_sync) _mtime = _ctime = now;
    }

    /// <summary>Sets mode, owner and times from a base snapshot entry.</summary>
    internal void SetFromEntry(PxarEntry entry)
    {
        var mtime = new Timestamp(entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds);
        lock (_sync)
        {
            _mode = PxarPosixMetadata.ModeOf(entry);
            _uid = entry.Stat.Uid;
            _gid = entry.Stat.Gid;
            _atime = _mtime = _ctime = mtime;
            _size = PxarPosixMetadata.SizeOf(entry);
            _contentVersion++;
            _symlinkTarget = entry.Kind == PxarEntryKind.Symlink ? entry.LinkTarget ?? [] : null;
            _major = entry.DeviceMajor;
            _minor = entry.DeviceMinor;
        }
    }

    /// <summary>A data write reached <paramref name="end"/>: the size grows to it, and the times move unless the kernel keeps them.</summary>
    internal void Wrote(long end, Timestamp? now)
    {
        lock (_sync)
        {
            _size = Math.Max(_size, end);
            _contentVersion++;
            if (now is { } t) _mtime = _ctime = t;
        }
    }

    /// <summary>
    /// The spool file's size and mtime as just read (passthrough writes change them without us).
    /// The first observation is the baseline; a later one that differs sets size and times and
    /// moves the content version on. True when it differed.
    /// </summary>
    internal bool SpoolObserved(long size, Timestamp mtime)
    {
        lock (_sync)
        {
            var seen = _spoolSeen;
            _spoolSeen = (size, mtime);
            if (seen == (size, mtime) || seen is null && size == _size) return false;
            _size = size;
            _contentVersion++;
            _mtime = _ctime = mtime;
            return true;
        }
    }

    /// <summary>Moves the content version on without other change (a writer the server did not see may have written).</summary>
    internal void ContentMayHaveChanged()
    {
        lock (_sync) _contentVersion++;
    }

    /// <summary>Notes the spool file's size and mtime without taking them (a change the session made itself).</summary>
    internal void SpoolBaseline(long size, Timestamp mtime)
    {
        lock (_sync) _spoolSeen = (size, mtime);
    }

    /// <summary>A handle opened (or released: -1).</summary>
    internal void CountOpen(int delta, bool writer)
    {
        lock (_sync)
        {
            _openHandles += delta;
            if (writer) _openWriters += delta;
        }
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
