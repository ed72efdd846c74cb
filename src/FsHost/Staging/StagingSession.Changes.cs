using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>Tree changes: validated live, journaled, then applied; replay applies the journaled ones.</summary>
public sealed partial class StagingSession
{
    private const int MaxName = 255;

    private static void CheckName(byte[] name)
    {
        if (name.Length == 0 || name.AsSpan().IndexOfAny((byte)'/', (byte)0) >= 0 || name is [(byte)'.'] or [(byte)'.', (byte)'.'])
            throw new StagingException(Errno.EINVAL);
        if (name.Length > MaxName) throw new StagingException(Errno.ENAMETOOLONG);
    }

    private void CheckMine(StagedInode inode)
    {
        if (inode.Session != this) throw new StagingException(Errno.EXDEV);
    }

    /// <summary>The parent's children, with the name checked and free.</summary>
    private async ValueTask<Dictionary<string, StagedInode>> FreeSlotAsync(StagedInode dir, byte[] name, CancellationToken ct)
    {
        CheckMine(dir);
        CheckName(name);
        var children = await ChildrenAsync(dir, ct).ConfigureAwait(false);
        if (children.ContainsKey(StagedInode.Key(name))) throw new StagingException(Errno.EEXIST);
        return children;
    }

    private StagedInode NewInode(ulong number, uint mode, uint uid, uint gid, Timestamp now) => new(this, StagedRole.Entry, number, mode)
    {
        Uid = uid,
        Gid = gid,
        AccessTime = now,
        ModificationTime = now,
        ChangeTime = now,
        BoundEpoch = _epoch,
    };

    private static void AddLink(StagedInode dir, byte[] name, StagedInode inode, Timestamp now)
    {
        dir.Children![StagedInode.Key(name)] = inode;
        inode.Links.Add(new StagedLink(dir, name));
        if (inode.IsDirectory) dir.Subdirectories++;
        dir.Touch(now);
    }

    private void RemoveLink(StagedInode dir, byte[] name, Timestamp now)
    {
        var key = StagedInode.Key(name);
        if (!dir.Children!.Remove(key, out var inode)) return;
        if (inode.IsDirectory) dir.Subdirectories--;
        int at = inode.Links.FindIndex(l => l.Parent == dir && l.Name.AsSpan().SequenceEqual(name));
        if (at >= 0) inode.Links.RemoveAt(at);
        inode.ChangeTime = now;
        dir.Touch(now);
        if (inode.Links.Count == 0 && inode.PendingBaseLinks == 0) Orphaned(inode);
    }

    /// <summary>An inode with no name left: its spool file goes once nobody has it open.</summary>
    private static void Orphaned(StagedInode inode)
    {
        if (inode.OpenHandles == 0 && inode.SpoolPath is { } spool)
        {
            TryDelete(spool);
            inode.SpoolPath = null;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string SpoolPathFor(ulong number) => Path.Combine(SpoolDirectory, number.ToString(System.Globalization.CultureInfo.InvariantCulture));

    // ---- live changes ----

    public async ValueTask<StagedInode> MakeDirectoryAsync(StagedInode dir, byte[] name, uint mode, uint umask, uint uid, uint gid, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        await FreeSlotAsync(dir, name, ct).ConfigureAwait(false);
        var start = await NewEntryAsync(dir, FileModes.Directory | (mode & 0xFFF), umask, gid, ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong number = _nextNumber++;
        Append(new JournalRecord { Op = JournalOp.MakeDirectory, Time = t, Parent = Bind(dir, t), Name = name, Number = number, Mode = start.Mode, Uid = uid, Gid = start.Gid });
        var inode = ApplyMakeDirectory(dir, name, number, start.Mode, uid, start.Gid, now);
        InheritAcls(inode, start, t, now);
        return inode;
    }

    /// <summary>
    /// The mode, group and ACLs a new entry in <paramref name="dir"/> starts with, as a local
    /// filesystem gives them: the directory's default ACL when it has one (the umask then does
    /// not apply), else the mode less the umask; a set-group-ID directory passes on its group
    /// (and, to directories, the bit itself).
    /// </summary>
    private async ValueTask<NewEntry> NewEntryAsync(StagedInode dir, uint mode, uint umask, uint gid, CancellationToken ct)
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

    private const uint SetGroupId = 0x400;

    private readonly record struct NewEntry(uint Mode, uint Gid, byte[]? Access, byte[]? Default);

    /// <summary>Journals and applies the ACLs a new inode inherited (records of their own, so replay stays plain).</summary>
    private void InheritAcls(StagedInode inode, NewEntry start, long t, Timestamp now)
    {
        if (start.Access is null && start.Default is null) return;
        var list = inode.Xattrs ??= [];
        if (start.Access is { } access) JournalSetXattr(inode, list, PosixAclRules.AccessName, access, t, now);
        if (start.Default is { } dflt) JournalSetXattr(inode, list, PosixAclRules.DefaultName, dflt, t, now);
    }

    private StagedInode ApplyMakeDirectory(StagedInode dir, byte[] name, ulong number, uint mode, uint uid, uint gid, Timestamp now)
    {
        var inode = NewInode(number, FileModes.Directory | (mode & 0xFFF), uid, gid, now);
        inode.Children = new(StringComparer.Ordinal);
        AddLink(dir, name, inode, now);
        return inode;
    }

    /// <summary>A new empty regular file (create or mknod S_IFREG), its spool file made first.</summary>
    public async ValueTask<StagedInode> CreateFileAsync(StagedInode dir, byte[] name, uint mode, uint umask, uint uid, uint gid, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        await FreeSlotAsync(dir, name, ct).ConfigureAwait(false);
        var start = await NewEntryAsync(dir, FileModes.Regular | (mode & 0xFFF), umask, gid, ct).ConfigureAwait(false);
        (mode, gid) = (start.Mode, start.Gid);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong parent = Bind(dir, t);
        ulong number = _nextNumber++;
        var spool = SpoolPathFor(number);
        CreateEmptySpool(spool);
        try
        {
            Append(new JournalRecord { Op = JournalOp.Create, Time = t, Parent = parent, Name = name, Number = number, Mode = mode, Uid = uid, Gid = gid });
        }
        catch
        {
            TryDelete(spool);
            throw;
        }
        var inode = ApplyCreate(dir, name, number, mode, uid, gid, now);
        InheritAcls(inode, start, t, now);
        return inode;
    }

    private static void CreateEmptySpool(string path)
    {
        using var h = StagingFiles.OpenHandle(path, FileMode.Create, FileAccess.Write);
    }

    private StagedInode ApplyCreate(StagedInode dir, byte[] name, ulong number, uint mode, uint uid, uint gid, Timestamp now)
    {
        var inode = NewInode(number, FileModes.Regular | (mode & 0xFFF), uid, gid, now);
        inode.SpoolPath = SpoolPathFor(number);
        AddLink(dir, name, inode, now);
        return inode;
    }

    /// <summary>mknod of a fifo, socket or device node.</summary>
    public async ValueTask<StagedInode> MakeSpecialAsync(StagedInode dir, byte[] name, uint mode, uint umask, ulong major, ulong minor, uint uid, uint gid, CancellationToken ct)
    {
        uint type = mode & FileModes.TypeMask;
        if (type is not (FileModes.Fifo or FileModes.Socket or FileModes.CharDevice or FileModes.BlockDevice)) throw new StagingException(Errno.EINVAL);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        await FreeSlotAsync(dir, name, ct).ConfigureAwait(false);
        var start = await NewEntryAsync(dir, mode & 0xFFFF, umask, gid, ct).ConfigureAwait(false);
        (mode, gid) = (start.Mode, start.Gid);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong number = _nextNumber++;
        Append(new JournalRecord { Op = JournalOp.MakeNode, Time = t, Parent = Bind(dir, t), Name = name, Number = number, Mode = mode, Uid = uid, Gid = gid, DeviceMajor = major, DeviceMinor = minor });
        var inode = ApplyMakeSpecial(dir, name, number, mode, major, minor, uid, gid, now);
        InheritAcls(inode, start, t, now);
        return inode;
    }

    private StagedInode ApplyMakeSpecial(StagedInode dir, byte[] name, ulong number, uint mode, ulong major, ulong minor, uint uid, uint gid, Timestamp now)
    {
        var inode = NewInode(number, mode & 0xFFFF, uid, gid, now);
        if ((mode & FileModes.TypeMask) is FileModes.CharDevice or FileModes.BlockDevice)
        {
            inode.DeviceMajor = major;
            inode.DeviceMinor = minor;
        }
        AddLink(dir, name, inode, now);
        return inode;
    }

    public async ValueTask<StagedInode> SymlinkAsync(StagedInode dir, byte[] name, byte[] target, uint uid, uint gid, CancellationToken ct)
    {
        if (target.Length == 0) throw new StagingException(Errno.ENOENT);
        if (target.Length > 4095) throw new StagingException(Errno.ENAMETOOLONG);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        await FreeSlotAsync(dir, name, ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong number = _nextNumber++;
        Append(new JournalRecord { Op = JournalOp.Symlink, Time = t, Parent = Bind(dir, t), Name = name, Number = number, Target = target, Uid = uid, Gid = gid });
        return ApplySymlink(dir, name, number, target, uid, gid, now);
    }

    private StagedInode ApplySymlink(StagedInode dir, byte[] name, ulong number, byte[] target, uint uid, uint gid, Timestamp now)
    {
        var inode = NewInode(number, FileModes.Symlink | 0x1FF, uid, gid, now);
        inode.SymlinkTarget = target;
        inode.Size = target.Length;
        AddLink(dir, name, inode, now);
        return inode;
    }

    public async ValueTask<StagedInode> LinkAsync(StagedInode inode, StagedInode dir, byte[] name, CancellationToken ct)
    {
        CheckMine(inode);
        if (inode.IsDirectory || inode.Role != StagedRole.Entry) throw new StagingException(Errno.EPERM);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        await FreeSlotAsync(dir, name, ct).ConfigureAwait(false);
        if (inode.Links.Count == 0) throw new StagingException(Errno.ENOENT);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong number = Bind(inode, t);
        Append(new JournalRecord { Op = JournalOp.Link, Time = t, Number = number, Parent = Bind(dir, t), Name = name });
        ApplyLink(inode, dir, name, now);
        return inode;
    }

    private static void ApplyLink(StagedInode inode, StagedInode dir, byte[] name, Timestamp now)
    {
        AddLink(dir, name, inode, now);
        inode.ChangeTime = now;
    }

    public async ValueTask UnlinkAsync(StagedInode dir, byte[] name, bool directory, CancellationToken ct)
    {
        CheckMine(dir);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var children = await ChildrenAsync(dir, ct).ConfigureAwait(false);
        if (!children.TryGetValue(StagedInode.Key(name), out var victim)) throw new StagingException(Errno.ENOENT);
        if (directory)
        {
            if (!victim.IsDirectory) throw new StagingException(Errno.ENOTDIR);
            if ((await ChildrenAsync(victim, ct).ConfigureAwait(false)).Count > 0) throw new StagingException(Errno.ENOTEMPTY);
        }
        else if (victim.IsDirectory) throw new StagingException(Errno.EISDIR);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        Append(new JournalRecord { Op = directory ? JournalOp.RemoveDirectory : JournalOp.Unlink, Time = t, Parent = Bind(dir, t), Name = name });
        RemoveLink(dir, name, now);
    }

    public async ValueTask RenameAsync(StagedInode dir, byte[] name, StagedInode newDir, byte[] newName, RenameFlags flags, CancellationToken ct)
    {
        CheckMine(dir);
        CheckMine(newDir);
        CheckName(newName);
        if ((flags & RenameFlags.Whiteout) != 0 || (flags & (RenameFlags.NoReplace | RenameFlags.Exchange)) == (RenameFlags.NoReplace | RenameFlags.Exchange))
            throw new StagingException(Errno.EINVAL);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var from = await ChildrenAsync(dir, ct).ConfigureAwait(false);
        var to = await ChildrenAsync(newDir, ct).ConfigureAwait(false);
        if (!from.TryGetValue(StagedInode.Key(name), out var moving)) throw new StagingException(Errno.ENOENT);
        to.TryGetValue(StagedInode.Key(newName), out var replaced);
        if ((flags & RenameFlags.NoReplace) != 0 && replaced is not null) throw new StagingException(Errno.EEXIST);
        if ((flags & RenameFlags.Exchange) != 0 && replaced is null) throw new StagingException(Errno.ENOENT);
        if (ReferenceEquals(moving, replaced)) return; // two names of one inode: rename does nothing
        if (moving.IsDirectory && IsWithin(newDir, moving)) throw new StagingException(Errno.EINVAL);
        if ((flags & RenameFlags.Exchange) != 0)
        {
            if (replaced!.IsDirectory && IsWithin(dir, replaced)) throw new StagingException(Errno.EINVAL);
        }
        else if (replaced is not null)
        {
            if (moving.IsDirectory && !replaced.IsDirectory) throw new StagingException(Errno.ENOTDIR);
            if (!moving.IsDirectory && replaced.IsDirectory) throw new StagingException(Errno.EISDIR);
            if (replaced.IsDirectory && (await ChildrenAsync(replaced, ct).ConfigureAwait(false)).Count > 0) throw new StagingException(Errno.ENOTEMPTY);
        }
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        Append(new JournalRecord { Op = JournalOp.Rename, Time = t, Parent = Bind(dir, t), Name = name, NewParent = Bind(newDir, t), NewName = newName, Flags = (uint)flags });
        ApplyRename(dir, name, newDir, newName, flags, now);
    }

    private static bool IsWithin(StagedInode dir, StagedInode ancestor)
    {
        for (var at = dir; at is not null; at = at.Role == StagedRole.Entry && at.Links.Count > 0 ? at.Links[0].Parent : null)
            if (ReferenceEquals(at, ancestor)) return true;
        return false;
    }

    private void ApplyRename(StagedInode dir, byte[] name, StagedInode newDir, byte[] newName, RenameFlags flags, Timestamp now)
    {
        var moving = dir.Children![StagedInode.Key(name)];
        newDir.Children!.TryGetValue(StagedInode.Key(newName), out var replaced);
        if (ReferenceEquals(moving, replaced)) return;
        if ((flags & RenameFlags.Exchange) != 0 && replaced is not null)
        {
            Relink(moving, dir, name, newDir, newName);
            Relink(replaced, newDir, newName, dir, name);
            dir.Children[StagedInode.Key(name)] = replaced;
            newDir.Children[StagedInode.Key(newName)] = moving;
            int shift = (moving.IsDirectory ? 1 : 0) - (replaced.IsDirectory ? 1 : 0);
            dir.Subdirectories -= shift;
            newDir.Subdirectories += shift;
            replaced.ChangeTime = now;
        }
        else
        {
            if (replaced is not null) RemoveLink(newDir, newName, now);
            dir.Children.Remove(StagedInode.Key(name));
            Relink(moving, dir, name, newDir, newName);
            newDir.Children[StagedInode.Key(newName)] = moving;
            if (moving.IsDirectory) { dir.Subdirectories--; newDir.Subdirectories++; }
        }
        moving.ChangeTime = now;
        dir.Touch(now);
        newDir.Touch(now);
    }

    private static void Relink(StagedInode inode, StagedInode oldDir, byte[] oldName, StagedInode newDir, byte[] newName)
    {
        int at = inode.Links.FindIndex(l => l.Parent == oldDir && l.Name.AsSpan().SequenceEqual(oldName));
        var link = new StagedLink(newDir, newName);
        if (at >= 0) inode.Links[at] = link; else inode.Links.Add(link);
    }

    public async ValueTask<NodeAttributes> SetAttributesAsync(StagedInode inode, SetAttributesRequest request, CancellationToken ct)
    {
        CheckMine(inode);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        if (request.Has(SetAttributeFields.Size))
        {
            if (inode.IsDirectory) throw new StagingException(Errno.EISDIR);
            if (!inode.IsRegular) throw new StagingException(Errno.EINVAL);
            if (request.Size > long.MaxValue / 2) throw new StagingException(Errno.EFBIG);
            await ResizeAsync(inode, (long)request.Size, t, ct).ConfigureAwait(false);
            inode.Touch(now);
        }
        const SetAttributeFields journaled = SetAttributeFields.Mode | SetAttributeFields.Uid | SetAttributeFields.Gid
            | SetAttributeFields.AccessTime | SetAttributeFields.ModificationTime | SetAttributeFields.AccessTimeNow | SetAttributeFields.ModificationTimeNow;
        var fields = request.Fields & journaled;
        var atime = request.Has(SetAttributeFields.AccessTimeNow) ? now : request.AccessTime;
        var mtime = request.Has(SetAttributeFields.ModificationTimeNow) ? now : request.ModificationTime;
        if (fields != 0)
        {
            if (TryBind(inode, t, out var number))
                Append(new JournalRecord
                {
                    Op = JournalOp.SetAttributes, Time = t, Number = number, Fields = (uint)fields, Mode = request.Mode, Uid = request.Uid, Gid = request.Gid,
                    AccessTime = Nanoseconds(atime), ModificationTime = Nanoseconds(mtime),
                });
            ApplySetAttributes(inode, fields, request.Mode, request.Uid, request.Gid, atime, mtime, now);
            if ((fields & SetAttributeFields.Mode) != 0 && inode.FileType != FileModes.Symlink)
            {
                // chmod of an entry with an access ACL rewrites the ACL's owner, mask (or group) and other entries.
                var list = await XattrsAsync(inode, ct).ConfigureAwait(false);
                int at = list.FindIndex(x => PosixAclRules.IsAccess(x.Name));
                if (at >= 0) JournalSetXattr(inode, list, PosixAclRules.AccessName, PosixAclRules.Chmod(list[at].Value, inode.Mode), t, now);
            }
        }
        return inode.Attributes();
    }

    private static void ApplySetAttributes(StagedInode inode, SetAttributeFields fields, uint mode, uint uid, uint gid, Timestamp atime, Timestamp mtime, Timestamp now)
    {
        if ((fields & SetAttributeFields.Mode) != 0) inode.Mode = (inode.Mode & FileModes.TypeMask) | (mode & 0xFFF);
        if ((fields & SetAttributeFields.Uid) != 0) inode.Uid = uid;
        if ((fields & SetAttributeFields.Gid) != 0) inode.Gid = gid;
        if ((fields & (SetAttributeFields.AccessTime | SetAttributeFields.AccessTimeNow)) != 0) inode.AccessTime = atime;
        if ((fields & (SetAttributeFields.ModificationTime | SetAttributeFields.ModificationTimeNow)) != 0) inode.ModificationTime = mtime;
        inode.ChangeTime = now;
    }

    public async ValueTask SetXattrAsync(StagedInode inode, byte[] name, byte[] value, XattrSetFlags flags, CancellationToken ct)
    {
        CheckMine(inode);
        if (name.Length is 0 or > 255) throw new StagingException(Errno.ERANGE);
        if (value.Length > 65536) throw new StagingException(Errno.E2BIG);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = await XattrsAsync(inode, ct).ConfigureAwait(false);
        int at = list.FindIndex(x => x.Name.AsSpan().SequenceEqual(name));
        if ((flags & XattrSetFlags.Create) != 0 && at >= 0) throw new StagingException(Errno.EEXIST);
        if ((flags & XattrSetFlags.Replace) != 0 && at < 0) throw new StagingException(Errno.ENODATA);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        JournalSetXattr(inode, list, name, value, t, now);
    }

    private void JournalSetXattr(StagedInode inode, List<(byte[] Name, byte[] Value)> list, byte[] name, byte[] value, long t, Timestamp now)
    {
        if (TryBind(inode, t, out var number))
            Append(new JournalRecord { Op = JournalOp.SetXattr, Time = t, Number = number, Name = name, Value = value });
        ApplySetXattr(list, inode, name, value, now);
    }

    private void JournalRemoveXattr(StagedInode inode, List<(byte[] Name, byte[] Value)> list, byte[] name, long t, Timestamp now)
    {
        if (list.FindIndex(x => x.Name.AsSpan().SequenceEqual(name)) < 0) return;
        if (TryBind(inode, t, out var number))
            Append(new JournalRecord { Op = JournalOp.RemoveXattr, Time = t, Number = number, Name = name });
        list.RemoveAll(x => x.Name.AsSpan().SequenceEqual(name));
        inode.ChangeTime = now;
    }

    /// <summary>
    /// setxattr of system.posix_acl_access/_default (already checked with
    /// <see cref="PosixAclRules.CheckSettable"/>), as a local filesystem does it: an access ACL
    /// sets the permission bits (group bits from its mask) and is kept only when it says more
    /// than the mode; a default ACL is kept as given; an empty value removes the ACL.
    /// </summary>
    /// <param name="keepSetGid">false when the caller is neither in the file's group nor root: the set-group-ID bit goes</param>
    public async ValueTask SetAclAsync(StagedInode inode, byte[] name, byte[] value, bool empty, bool keepSetGid, CancellationToken ct)
    {
        CheckMine(inode);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = await XattrsAsync(inode, ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        if (empty)
        {
            JournalRemoveXattr(inode, list, name, t, now);
            return;
        }
        if (PosixAclRules.IsAccess(name))
        {
            uint mode = (inode.Mode & ~0x1FFu) | PosixAclRules.PermissionsOf(value);
            if (!keepSetGid) mode &= ~SetGroupId;
            if (TryBind(inode, t, out var number))
                Append(new JournalRecord { Op = JournalOp.SetAttributes, Time = t, Number = number, Fields = (uint)SetAttributeFields.Mode, Mode = mode });
            ApplySetAttributes(inode, SetAttributeFields.Mode, mode, 0, 0, default, default, now);
            if (PosixAclRules.IsMinimal(value))
            {
                JournalRemoveXattr(inode, list, name, t, now);
                return;
            }
        }
        JournalSetXattr(inode, list, name, value, t, now);
    }

    /// <summary>removexattr of an ACL: like a local filesystem, removing one that is not there is no error.</summary>
    public async ValueTask RemoveAclAsync(StagedInode inode, byte[] name, CancellationToken ct)
    {
        CheckMine(inode);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = await XattrsAsync(inode, ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        JournalRemoveXattr(inode, list, name, Nanoseconds(now), now);
    }

    private static void ApplySetXattr(List<(byte[] Name, byte[] Value)> list, StagedInode inode, byte[] name, byte[] value, Timestamp now)
    {
        int at = list.FindIndex(x => x.Name.AsSpan().SequenceEqual(name));
        if (at >= 0) list[at] = (name, value); else list.Add((name, value));
        inode.ChangeTime = now;
    }

    public async ValueTask RemoveXattrAsync(StagedInode inode, byte[] name, CancellationToken ct)
    {
        CheckMine(inode);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = await XattrsAsync(inode, ct).ConfigureAwait(false);
        if (list.FindIndex(x => x.Name.AsSpan().SequenceEqual(name)) < 0) throw new StagingException(Errno.ENODATA);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        if (TryBind(inode, t, out var number))
            Append(new JournalRecord { Op = JournalOp.RemoveXattr, Time = t, Number = number, Name = name });
        list.RemoveAll(x => x.Name.AsSpan().SequenceEqual(name));
        inode.ChangeTime = now;
    }

    // ---- replay ----

    /// <summary>Applies journaled records over the base, as they were applied live.</summary>
    private async Task ReplayAsync(List<JournalRecord> records, CancellationToken ct)
    {
        var byNumber = new Dictionary<ulong, StagedInode> { [RootNumber] = Root };
        ulong max = RootNumber;
        foreach (var r in records) max = Math.Max(max, r.Number);
        _nextNumber = max + 1;
        StagedInode Get(ulong number, JournalRecord r) => byNumber.TryGetValue(number, out var i) ? i
            : throw new InvalidDataException($"journal record {r.Op} names inode {number}, which no earlier record made");
        async ValueTask<StagedInode> DirectoryAsync(ulong number, JournalRecord r)
        {
            var dir = Get(number, r);
            await ChildrenAsync(dir, ct).ConfigureAwait(false);
            return dir;
        }
        async ValueTask<StagedInode> ChildAsync(StagedInode dir, byte[] name, JournalRecord r) =>
            (await ChildrenAsync(dir, ct).ConfigureAwait(false)).GetValueOrDefault(StagedInode.Key(name))
            ?? throw new InvalidDataException($"journal record {r.Op} names '{System.Text.Encoding.UTF8.GetString(name)}', which does not exist at that point");

        foreach (var r in records)
        {
            var now = FromNanoseconds(r.Time);
            switch (r.Op)
            {
                case JournalOp.Bind:
                {
                    var child = await ChildAsync(Get(r.Parent, r), r.Name, r).ConfigureAwait(false);
                    child.Number = r.Number;
                    child.BoundEpoch = _epoch;
                    byNumber[r.Number] = child;
                    break;
                }
                case JournalOp.MakeDirectory:
                {
                    var dir = await DirectoryAsync(r.Parent, r).ConfigureAwait(false);
                    byNumber[r.Number] = ApplyMakeDirectory(dir, r.Name, r.Number, r.Mode, r.Uid, r.Gid, now);
                    break;
                }
                case JournalOp.Create:
                {
                    var dir = await DirectoryAsync(r.Parent, r).ConfigureAwait(false);
                    var inode = ApplyCreate(dir, r.Name, r.Number, r.Mode, r.Uid, r.Gid, now);
                    if (!File.Exists(inode.SpoolPath)) CreateEmptySpool(inode.SpoolPath!);
                    byNumber[r.Number] = inode;
                    break;
                }
                case JournalOp.MakeNode:
                {
                    var dir = await DirectoryAsync(r.Parent, r).ConfigureAwait(false);
                    byNumber[r.Number] = ApplyMakeSpecial(dir, r.Name, r.Number, r.Mode, r.DeviceMajor, r.DeviceMinor, r.Uid, r.Gid, now);
                    break;
                }
                case JournalOp.Symlink:
                {
                    var dir = await DirectoryAsync(r.Parent, r).ConfigureAwait(false);
                    byNumber[r.Number] = ApplySymlink(dir, r.Name, r.Number, r.Target, r.Uid, r.Gid, now);
                    break;
                }
                case JournalOp.Link:
                {
                    var dir = await DirectoryAsync(r.Parent, r).ConfigureAwait(false);
                    ApplyLink(Get(r.Number, r), dir, r.Name, now);
                    break;
                }
                case JournalOp.Unlink:
                case JournalOp.RemoveDirectory:
                {
                    var dir = Get(r.Parent, r);
                    await ChildAsync(dir, r.Name, r).ConfigureAwait(false);
                    RemoveLink(dir, r.Name, now);
                    break;
                }
                case JournalOp.Rename:
                {
                    var dir = Get(r.Parent, r);
                    await ChildAsync(dir, r.Name, r).ConfigureAwait(false);
                    var newDir = await DirectoryAsync(r.NewParent, r).ConfigureAwait(false);
                    ApplyRename(dir, r.Name, newDir, r.NewName, (RenameFlags)r.Flags, now);
                    break;
                }
                case JournalOp.SetAttributes:
                    ApplySetAttributes(Get(r.Number, r), (SetAttributeFields)r.Fields, r.Mode, r.Uid, r.Gid,
                        FromNanoseconds(r.AccessTime), FromNanoseconds(r.ModificationTime), now);
                    break;
                case JournalOp.Spool:
                {
                    var inode = Get(r.Number, r);
                    inode.SpoolPath = SpoolPathFor(r.Number);
                    if (!File.Exists(inode.SpoolPath)) throw new InvalidDataException($"spool file {inode.SpoolPath} is missing");
                    break;
                }
                case JournalOp.SetXattr:
                {
                    var inode = Get(r.Number, r);
                    ApplySetXattr(await XattrsAsync(inode, ct).ConfigureAwait(false), inode, r.Name, r.Value, now);
                    break;
                }
                case JournalOp.RemoveXattr:
                {
                    var inode = Get(r.Number, r);
                    (await XattrsAsync(inode, ct).ConfigureAwait(false)).RemoveAll(x => x.Name.AsSpan().SequenceEqual(r.Name));
                    inode.ChangeTime = now;
                    break;
                }
                case JournalOp.Touch:
                    Get(r.Number, r).Touch(FromNanoseconds(r.ModificationTime));
                    break;
                default:
                    throw new InvalidDataException($"unexpected journal record {r.Op}");
            }
        }
        // The spool files are the truth for sizes: writes are not journaled one by one.
        foreach (var inode in byNumber.Values)
            if (inode.SpoolPath is { } spool && File.Exists(spool)) inode.Size = new FileInfo(spool).Length;
    }
}
