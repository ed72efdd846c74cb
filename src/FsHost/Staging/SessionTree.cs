using BackupFs.Datastore.Pxar;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// The inodes of one session over its base archive: directories of the base are listed into
/// memory on first use, hardlinked base files share one inode, and each change is applied by one
/// method here, the same one for a live change and for its journal record at replay. The rules a
/// change must pass (names, EEXIST, ENOTEMPTY, EXDEV, rename cycles...) are checked here too,
/// as errno results. Everything here runs under the session gate.
/// </summary>
internal sealed class SessionTree
{
    public const ulong RootNumber = 1;
    private const int MaxName = 255;
    private const uint SetGroupId = 0x400;
    private readonly StagingSession _session;
    private readonly Dictionary<long, StagedInode> _baseFiles = new();
    private Task<Dictionary<long, int>>? _baseLinkCounts;

    public SessionTree(StagingSession session, StagedInode root)
    {
        _session = session;
        Root = root;
    }

    public StagedInode Root { get; }
    /// <summary>The base archive (null: the session started empty).</summary>
    public PxarAccessor? Base { get; private set; }
    private long _nextNumber = (long)RootNumber + 1;
    /// <summary>The next inode number; taken under the session gate and, ahead of need, by the spool's spare files (so atomically).</summary>
    public ulong NextNumber { get => (ulong)Interlocked.Read(ref _nextNumber); set => Interlocked.Exchange(ref _nextNumber, (long)value); }
    /// <summary>Base files with several names, by pxar identity, materialized so far.</summary>
    public IReadOnlyDictionary<long, StagedInode> BaseFiles => _baseFiles;

    public ulong AllocateNumber() => (ulong)Interlocked.Increment(ref _nextNumber) - 1;

    /// <summary>Starts over on a base archive (or empty): the root takes its metadata, nothing else is known yet.</summary>
    public void Reset(PxarAccessor? accessor)
    {
        Base = accessor;
        _baseLinkCounts = null;
        _baseFiles.Clear();
        Root.Xattrs = null;
        if (accessor is null)
        {
            Root.BaseEntry = null;
            Root.Children = new(StringComparer.Ordinal);
            Root.Subdirectories = 0;
            var now = Timestamp.Now;
            Root.AccessTime = Root.ModificationTime = Root.ChangeTime = now;
            return;
        }
        Root.BaseEntry = accessor.Root;
        Root.Children = null;
        Root.Subdirectories = 0;
        Root.SetFromEntry(accessor.Root);
    }

    /// <summary>After a commit of exactly this tree: the new archive is the base, listed inodes keep their state and point at its entries.</summary>
    public void Rebased(PxarAccessor accessor, Dictionary<long, StagedInode> files)
    {
        Base = accessor;
        _baseLinkCounts = null;
        _baseFiles.Clear();
        foreach (var (identity, inode) in files) _baseFiles[identity] = inode;
    }

    /// <summary>Link counts of the base's hardlinked files, counted once in the background.</summary>
    public Task<Dictionary<long, int>> BaseLinkCounts()
    {
        var accessor = Base ?? throw new InvalidOperationException("no base archive");
        return _baseLinkCounts ??= Task.Run(() => PxarHardlinkCounter.CountAsync(accessor, CancellationToken.None).AsTask());
    }

    // ---- reading ----

    /// <summary>A directory's children, listing it from the base on first use.</summary>
    public async ValueTask<Dictionary<string, StagedInode>> ChildrenAsync(StagedInode dir, CancellationToken ct)
    {
        if (dir.Children is { } known) return known;
        if (!dir.IsDirectory) throw new InvalidOperationException("children of a non-directory");
        var accessor = Base ?? throw new InvalidOperationException("a base directory without a base archive");
        var entries = await accessor.ListDirectoryAsync(dir.BaseEntry!, ct).ConfigureAwait(false);
        var counts = await BaseLinkCounts().ConfigureAwait(false);
        var children = new Dictionary<string, StagedInode>(entries.Count, StringComparer.Ordinal);
        int subdirectories = 0;
        foreach (var entry in entries)
        {
            var inode = await FromBaseAsync(accessor, entry, counts, ct).ConfigureAwait(false);
            inode.AddLink(new StagedLink(dir, entry.Name));
            children[StagedInode.Key(entry.Name)] = inode;
            if (inode.IsDirectory) subdirectories++;
        }
        dir.Subdirectories += subdirectories;
        dir.Children = children;
        return children;
    }

    private async ValueTask<StagedInode> FromBaseAsync(PxarAccessor accessor, PxarEntry entry, Dictionary<long, int> counts, CancellationToken ct)
    {
        if (entry.Kind == PxarEntryKind.Hardlink) entry = await accessor.FollowHardlinkAsync(entry, ct).ConfigureAwait(false);
        if (entry.Kind == PxarEntryKind.File && _baseFiles.TryGetValue(entry.Identity, out var shared))
        {
            shared.PendingBaseLinks = Math.Max(0, shared.PendingBaseLinks - 1);
            return shared;
        }
        var inode = new StagedInode(_session, StagedRole.Entry, AllocateNumber(), 0) { BaseEntry = entry };
        inode.SetFromEntry(entry);
        if (entry.Kind == PxarEntryKind.File && counts.TryGetValue(entry.Identity, out int links) && links > 1)
        {
            inode.PendingBaseLinks = links - 1;
            _baseFiles[entry.Identity] = inode;
        }
        return inode;
    }

    public async ValueTask<StagedInode?> ChildAsync(StagedInode dir, byte[] name, CancellationToken ct) =>
        (await ChildrenAsync(dir, ct).ConfigureAwait(false)).GetValueOrDefault(StagedInode.Key(name));

    /// <summary>The inode's xattrs (loaded from the base entry on first use), as getxattr shows them.</summary>
    public async ValueTask<List<(byte[] Name, byte[] Value)>> XattrsAsync(StagedInode inode, CancellationToken ct)
    {
        if (inode.Xattrs is { } known) return known;
        var list = inode.BaseEntry is { } entry && Base is { } accessor
            ? await PxarPosixMetadata.ReadXattrsAsync(accessor, entry, ct).ConfigureAwait(false)
            : [];
        inode.Xattrs = list;
        return list;
    }

    // ---- rules ----

    public static Errno CheckName(byte[] name)
    {
        if (name.Length == 0 || name.AsSpan().IndexOfAny((byte)'/', (byte)0) >= 0 || name is [(byte)'.'] or [(byte)'.', (byte)'.']) return Errno.EINVAL;
        return name.Length > MaxName ? Errno.ENAMETOOLONG : Errno.Ok;
    }

    public Errno CheckMine(StagedInode inode) => inode.Session == _session ? Errno.Ok : Errno.EXDEV;

    /// <summary>Whether <paramref name="name"/> can be made in <paramref name="dir"/>: a directory of this session, a good name, not taken.</summary>
    public async ValueTask<Errno> CheckFreeAsync(StagedInode dir, byte[] name, CancellationToken ct)
    {
        if (CheckMine(dir) is { IsOk: false } other) return other;
        if (!dir.IsDirectory) return Errno.ENOTDIR;
        if (CheckName(name) is { IsOk: false } bad) return bad;
        return (await ChildrenAsync(dir, ct).ConfigureAwait(false)).ContainsKey(StagedInode.Key(name)) ? Errno.EEXIST : Errno.Ok;
    }

    /// <summary>unlink/rmdir of dir/name: the victim, or why not.</summary>
    public async ValueTask<VfsResult<StagedInode>> CheckRemoveAsync(StagedInode dir, byte[] name, bool directory, CancellationToken ct)
    {
        if (CheckMine(dir) is { IsOk: false } other) return other;
        if (!dir.IsDirectory) return Errno.ENOTDIR;
        if (await ChildAsync(dir, name, ct).ConfigureAwait(false) is not { } victim) return Errno.ENOENT;
        if (directory)
        {
            if (!victim.IsDirectory) return Errno.ENOTDIR;
            if ((await ChildrenAsync(victim, ct).ConfigureAwait(false)).Count > 0) return Errno.ENOTEMPTY;
        }
        else if (victim.IsDirectory) return Errno.EISDIR;
        return victim;
    }

    /// <summary>rename(2)'s rules (with RENAME_NOREPLACE/EXCHANGE): Ok, or the errno. <paramref name="nothing"/>: two names of one inode, rename does nothing.</summary>
    public async ValueTask<Errno> CheckRenameAsync(StagedInode dir, byte[] name, StagedInode newDir, byte[] newName, RenameFlags flags, CancellationToken ct)
    {
        if (CheckMine(dir) is { IsOk: false } a) return a;
        if (CheckMine(newDir) is { IsOk: false } b) return b;
        if (CheckName(newName) is { IsOk: false } bad) return bad;
        if ((flags & RenameFlags.Whiteout) != 0 || (flags & (RenameFlags.NoReplace | RenameFlags.Exchange)) == (RenameFlags.NoReplace | RenameFlags.Exchange))
            return Errno.EINVAL;
        if (!dir.IsDirectory || !newDir.IsDirectory) return Errno.ENOTDIR;
        if (await ChildAsync(dir, name, ct).ConfigureAwait(false) is not { } moving) return Errno.ENOENT;
        var replaced = await ChildAsync(newDir, newName, ct).ConfigureAwait(false);
        if ((flags & RenameFlags.NoReplace) != 0 && replaced is not null) return Errno.EEXIST;
        if ((flags & RenameFlags.Exchange) != 0 && replaced is null) return Errno.ENOENT;
        if (ReferenceEquals(moving, replaced)) return Errno.Ok;
        if (moving.IsDirectory && IsWithin(newDir, moving)) return Errno.EINVAL;
        if ((flags & RenameFlags.Exchange) != 0)
        {
            if (replaced!.IsDirectory && IsWithin(dir, replaced)) return Errno.EINVAL;
        }
        else if (replaced is not null)
        {
            if (moving.IsDirectory && !replaced.IsDirectory) return Errno.ENOTDIR;
            if (!moving.IsDirectory && replaced.IsDirectory) return Errno.EISDIR;
            if (replaced.IsDirectory && (await ChildrenAsync(replaced, ct).ConfigureAwait(false)).Count > 0) return Errno.ENOTEMPTY;
        }
        return Errno.Ok;
    }

    private static bool IsWithin(StagedInode dir, StagedInode ancestor)
    {
        for (var at = dir; at is not null; at = at.Role == StagedRole.Entry ? at.FirstLink?.Parent : null)
            if (ReferenceEquals(at, ancestor)) return true;
        return false;
    }

    /// <summary>
    /// The mode, group and ACLs a new entry in <paramref name="dir"/> starts with, as a local
    /// filesystem gives them: the directory's default ACL when it has one (the umask then does
    /// not apply), else the mode less the umask; a set-group-ID directory passes on its group
    /// (and, to directories, the bit itself).
    /// </summary>
    public async ValueTask<NewEntry> NewEntryAsync(StagedInode dir, uint mode, uint umask, uint gid, CancellationToken ct)
    {
        bool directory = (mode & FileModes.TypeMask) == FileModes.Directory;
        var dirXattrs = await XattrsAsync(dir, ct).ConfigureAwait(false);
        var entry = new NewEntry(mode & ~(umask & 0x1FF), gid, null, null);
        foreach (var (name, value) in dirXattrs)
        {
            if (!PosixAclRules.IsDefault(name)) continue;
            var (m, access, dflt) = PosixAclRules.Inherit(value, mode, directory);
            entry = new NewEntry(m, gid, access, dflt);
        }
        if ((dir.Mode & SetGroupId) != 0)
            entry = entry with { Gid = dir.Gid, Mode = directory ? entry.Mode | SetGroupId : entry.Mode };
        return entry;
    }

    // ---- applying changes (live and at replay) ----

    private StagedInode NewInode(ulong number, uint mode, uint uid, uint gid, Timestamp now, long epoch) => new(_session, StagedRole.Entry, number, mode)
    {
        Uid = uid,
        Gid = gid,
        AccessTime = now,
        ModificationTime = now,
        ChangeTime = now,
        BoundEpoch = epoch,
    };

    private static void AddLink(StagedInode dir, byte[] name, StagedInode inode, Timestamp now)
    {
        dir.Children![StagedInode.Key(name)] = inode;
        inode.AddLink(new StagedLink(dir, name));
        if (inode.IsDirectory) dir.Subdirectories++;
        dir.Touch(now);
    }

    public StagedInode ApplyMakeDirectory(StagedInode dir, byte[] name, ulong number, uint mode, uint uid, uint gid, Timestamp now, long epoch)
    {
        var inode = NewInode(number, FileModes.Directory | (mode & 0xFFF), uid, gid, now, epoch);
        inode.Children = new(StringComparer.Ordinal);
        AddLink(dir, name, inode, now);
        return inode;
    }

    public StagedInode ApplyCreate(StagedInode dir, byte[] name, ulong number, uint mode, uint uid, uint gid, string spoolPath, Timestamp now, long epoch)
    {
        var inode = NewInode(number, FileModes.Regular | (mode & 0xFFF), uid, gid, now, epoch);
        inode.SpoolPath = spoolPath;
        AddLink(dir, name, inode, now);
        return inode;
    }

    public StagedInode ApplyMakeSpecial(StagedInode dir, byte[] name, ulong number, uint mode, ulong major, ulong minor, uint uid, uint gid, Timestamp now, long epoch)
    {
        var inode = NewInode(number, mode & 0xFFFF, uid, gid, now, epoch);
        if ((mode & FileModes.TypeMask) is FileModes.CharDevice or FileModes.BlockDevice)
        {
            inode.DeviceMajor = major;
            inode.DeviceMinor = minor;
        }
        AddLink(dir, name, inode, now);
        return inode;
    }

    public StagedInode ApplySymlink(StagedInode dir, byte[] name, ulong number, byte[] target, uint uid, uint gid, Timestamp now, long epoch)
    {
        var inode = NewInode(number, FileModes.Symlink | 0x1FF, uid, gid, now, epoch);
        inode.SymlinkTarget = target;
        inode.Size = target.Length;
        AddLink(dir, name, inode, now);
        return inode;
    }

    public static void ApplyLink(StagedInode inode, StagedInode dir, byte[] name, Timestamp now)
    {
        AddLink(dir, name, inode, now);
        inode.ChangeTime = now;
    }

    /// <summary>Removes one name; returns the inode when that was its last (its content may go).</summary>
    public static StagedInode? ApplyRemove(StagedInode dir, byte[] name, Timestamp now)
    {
        if (!dir.Children!.Remove(StagedInode.Key(name), out var inode)) return null;
        if (inode.IsDirectory) dir.Subdirectories--;
        inode.RemoveLink(dir, name);
        inode.ChangeTime = now;
        dir.Touch(now);
        return inode.Nameless ? inode : null;
    }

    /// <summary>Applies a checked rename; returns an inode left without names (a replaced one), if any.</summary>
    public static StagedInode? ApplyRename(StagedInode dir, byte[] name, StagedInode newDir, byte[] newName, RenameFlags flags, Timestamp now)
    {
        var moving = dir.Children![StagedInode.Key(name)];
        newDir.Children!.TryGetValue(StagedInode.Key(newName), out var replaced);
        if (ReferenceEquals(moving, replaced)) return null;
        StagedInode? orphan = null;
        if ((flags & RenameFlags.Exchange) != 0)
        {
            dir.Children[StagedInode.Key(name)] = replaced!;
            newDir.Children[StagedInode.Key(newName)] = moving;
            moving.Relink(dir, name, new StagedLink(newDir, newName));
            replaced!.Relink(newDir, newName, new StagedLink(dir, name));
            int shift = (moving.IsDirectory ? 1 : 0) - (replaced.IsDirectory ? 1 : 0);
            dir.Subdirectories -= shift;
            newDir.Subdirectories += shift;
            replaced.ChangeTime = now;
        }
        else
        {
            if (replaced is not null) orphan = ApplyRemove(newDir, newName, now);
            dir.Children.Remove(StagedInode.Key(name));
            moving.Relink(dir, name, new StagedLink(newDir, newName));
            newDir.Children[StagedInode.Key(newName)] = moving;
            if (moving.IsDirectory) { dir.Subdirectories--; newDir.Subdirectories++; }
        }
        moving.ChangeTime = now;
        dir.Touch(now);
        newDir.Touch(now);
        return orphan;
    }

    public static void ApplySetAttributes(StagedInode inode, SetAttributeFields fields, uint mode, uint uid, uint gid, Timestamp atime, Timestamp mtime, Timestamp now)
    {
        if ((fields & SetAttributeFields.Mode) != 0) inode.Mode = (inode.Mode & FileModes.TypeMask) | (mode & 0xFFF);
        if ((fields & SetAttributeFields.Uid) != 0) inode.Uid = uid;
        if ((fields & SetAttributeFields.Gid) != 0) inode.Gid = gid;
        if ((fields & (SetAttributeFields.AccessTime | SetAttributeFields.AccessTimeNow)) != 0) inode.AccessTime = atime;
        if ((fields & (SetAttributeFields.ModificationTime | SetAttributeFields.ModificationTimeNow)) != 0) inode.ModificationTime = mtime;
        inode.ChangeTime = now;
    }

    public async ValueTask ApplySetXattrAsync(StagedInode inode, byte[] name, byte[] value, Timestamp now, CancellationToken ct)
    {
        var list = await XattrsAsync(inode, ct).ConfigureAwait(false);
        int at = list.FindIndex(x => x.Name.AsSpan().SequenceEqual(name));
        if (at >= 0) list[at] = (name, value); else list.Add((name, value));
        inode.ChangeTime = now;
    }

    public async ValueTask ApplyRemoveXattrAsync(StagedInode inode, byte[] name, Timestamp now, CancellationToken ct)
    {
        (await XattrsAsync(inode, ct).ConfigureAwait(false)).RemoveAll(x => x.Name.AsSpan().SequenceEqual(name));
        inode.ChangeTime = now;
    }
}

/// <summary>What a new entry starts with: its mode and group, and the ACLs it inherits (null: none).</summary>
internal readonly record struct NewEntry(uint Mode, uint Gid, byte[]? Access, byte[]? Default);
