using BackupFs.FsHost.Vfs;
using static BackupFs.FsHost.Staging.Timestamps;

namespace BackupFs.FsHost.Staging;

/// <summary>Tree changes: checked (an errno when refused), journaled, then applied by the session tree.</summary>
public sealed partial class StagingSession
{
    private const uint SetGroupId = 0x400;

    /// <summary>An inode with no name left: its spool file goes once nobody has it open.</summary>
    private void Orphaned(StagedInode? inode)
    {
        if (inode is null || inode.OpenHandles != 0 || inode.SpoolPath is not { } spool) return;
        _spool.Drop(spool);
        inode.SpoolPath = null;
    }

    public async ValueTask<VfsResult<StagedInode>> MakeDirectoryAsync(StagedInode dir, byte[] name, uint mode, uint umask, uint uid, uint gid, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (await _tree.CheckFreeAsync(dir, name, ct).ConfigureAwait(false) is { IsOk: false } refused) return refused;
        var start = await _tree.NewEntryAsync(dir, FileModes.Directory | (mode & 0xFFF), umask, gid, ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong parent = Bind(dir, t);
        ulong number = _tree.AllocateNumber();
        _journal.Append(new JournalRecord { Op = JournalOp.MakeDirectory, Time = t, Parent = parent, Name = name, Number = number, Mode = start.Mode, Uid = uid, Gid = start.Gid });
        var inode = _tree.ApplyMakeDirectory(dir, name, number, start.Mode, uid, start.Gid, now, _journal.Epoch);
        await InheritAclsAsync(inode, start, t, now, ct).ConfigureAwait(false);
        return inode;
    }

    /// <summary>The journal number of an inode the caller holds by a name (under the gate it still has one).</summary>
    private ulong Bind(StagedInode inode, long t) =>
        _journal.TryBind(inode, t, out var number) ? number : throw new InvalidOperationException("an inode in use has no name");

    /// <summary>Journals and applies the ACLs a new inode inherited (records of their own, so replay stays plain).</summary>
    private async ValueTask InheritAclsAsync(StagedInode inode, NewEntry start, long t, Timestamp now, CancellationToken ct)
    {
        if (start.Access is null && start.Default is null) return;
        inode.Xattrs ??= [];
        if (start.Access is { } access) await JournalSetXattrAsync(inode, PosixAclRules.AccessName, access, t, now, ct).ConfigureAwait(false);
        if (start.Default is { } dflt) await JournalSetXattrAsync(inode, PosixAclRules.DefaultName, dflt, t, now, ct).ConfigureAwait(false);
    }

    /// <summary>A new empty regular file (create or mknod S_IFREG), its spool file made first.</summary>
    public async ValueTask<VfsResult<StagedInode>> CreateFileAsync(StagedInode dir, byte[] name, uint mode, uint umask, uint uid, uint gid, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (await _tree.CheckFreeAsync(dir, name, ct).ConfigureAwait(false) is { IsOk: false } refused) return refused;
        var start = await _tree.NewEntryAsync(dir, FileModes.Regular | (mode & 0xFFF), umask, gid, ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong parent = Bind(dir, t);
        var (number, spool) = _spool.CreateFile();
        try
        {
            _journal.Append(new JournalRecord { Op = JournalOp.Create, Time = t, Parent = parent, Name = name, Number = number, Mode = start.Mode, Uid = uid, Gid = start.Gid });
        }
        catch
        {
            SessionSpool.TryDelete(spool);
            throw;
        }
        var inode = _tree.ApplyCreate(dir, name, number, start.Mode, uid, start.Gid, spool, now, _journal.Epoch);
        await InheritAclsAsync(inode, start, t, now, ct).ConfigureAwait(false);
        return inode;
    }

    /// <summary>mknod of a fifo, socket or device node.</summary>
    public async ValueTask<VfsResult<StagedInode>> MakeSpecialAsync(StagedInode dir, byte[] name, uint mode, uint umask, ulong major, ulong minor, uint uid, uint gid, CancellationToken ct)
    {
        uint type = mode & FileModes.TypeMask;
        if (type is not (FileModes.Fifo or FileModes.Socket or FileModes.CharDevice or FileModes.BlockDevice)) return Errno.EINVAL;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (await _tree.CheckFreeAsync(dir, name, ct).ConfigureAwait(false) is { IsOk: false } refused) return refused;
        var start = await _tree.NewEntryAsync(dir, mode & 0xFFFF, umask, gid, ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong parent = Bind(dir, t);
        ulong number = _tree.AllocateNumber();
        _journal.Append(new JournalRecord { Op = JournalOp.MakeNode, Time = t, Parent = parent, Name = name, Number = number, Mode = start.Mode, Uid = uid, Gid = start.Gid, DeviceMajor = major, DeviceMinor = minor });
        var inode = _tree.ApplyMakeSpecial(dir, name, number, start.Mode, major, minor, uid, start.Gid, now, _journal.Epoch);
        await InheritAclsAsync(inode, start, t, now, ct).ConfigureAwait(false);
        return inode;
    }

    public async ValueTask<VfsResult<StagedInode>> SymlinkAsync(StagedInode dir, byte[] name, byte[] target, uint uid, uint gid, CancellationToken ct)
    {
        if (target.Length == 0) return Errno.ENOENT;
        if (target.Length > 4095) return Errno.ENAMETOOLONG;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (await _tree.CheckFreeAsync(dir, name, ct).ConfigureAwait(false) is { IsOk: false } refused) return refused;
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong parent = Bind(dir, t);
        ulong number = _tree.AllocateNumber();
        _journal.Append(new JournalRecord { Op = JournalOp.Symlink, Time = t, Parent = parent, Name = name, Number = number, Target = target, Uid = uid, Gid = gid });
        return _tree.ApplySymlink(dir, name, number, target, uid, gid, now, _journal.Epoch);
    }

    public async ValueTask<VfsResult<StagedInode>> LinkAsync(StagedInode inode, StagedInode dir, byte[] name, CancellationToken ct)
    {
        if (_tree.CheckMine(inode) is { IsOk: false } other) return other;
        if (inode.IsDirectory || inode.Role != StagedRole.Entry) return Errno.EPERM;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (await _tree.CheckFreeAsync(dir, name, ct).ConfigureAwait(false) is { IsOk: false } refused) return refused;
        if (inode.LinkNames == 0) return Errno.ENOENT;
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        ulong number = Bind(inode, t);
        _journal.Append(new JournalRecord { Op = JournalOp.Link, Time = t, Number = number, Parent = Bind(dir, t), Name = name });
        SessionTree.ApplyLink(inode, dir, name, now);
        return inode;
    }

    public async ValueTask<Errno> UnlinkAsync(StagedInode dir, byte[] name, bool directory, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var victim = await _tree.CheckRemoveAsync(dir, name, directory, ct).ConfigureAwait(false);
        if (!victim.IsOk) return victim.Error;
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        _journal.Append(new JournalRecord { Op = directory ? JournalOp.RemoveDirectory : JournalOp.Unlink, Time = t, Parent = Bind(dir, t), Name = name });
        Orphaned(SessionTree.ApplyRemove(dir, name, now));
        return Errno.Ok;
    }

    public async ValueTask<Errno> RenameAsync(StagedInode dir, byte[] name, StagedInode newDir, byte[] newName, RenameFlags flags, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (await _tree.CheckRenameAsync(dir, name, newDir, newName, flags, ct).ConfigureAwait(false) is { IsOk: false } refused) return refused;
        if (ReferenceEquals(dir.Children![StagedInode.Key(name)], newDir.Children!.GetValueOrDefault(StagedInode.Key(newName)))) return Errno.Ok; // two names of one inode
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        _journal.Append(new JournalRecord { Op = JournalOp.Rename, Time = t, Parent = Bind(dir, t), Name = name, NewParent = Bind(newDir, t), NewName = newName, Flags = (uint)flags });
        Orphaned(SessionTree.ApplyRename(dir, name, newDir, newName, flags, now));
        return Errno.Ok;
    }

    public async ValueTask<VfsResult<NodeAttributes>> SetAttributesAsync(StagedInode inode, SetAttributesRequest request, CancellationToken ct)
    {
        if (_tree.CheckMine(inode) is { IsOk: false } other) return other;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        // Passthrough writes so far are taken first, so times set now stay (cp -a and tar set them before close).
        RefreshFromSpool(inode);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        if (request.Has(SetAttributeFields.Size))
        {
            if (inode.IsDirectory) return Errno.EISDIR;
            if (!inode.IsRegular) return Errno.EINVAL;
            if (request.Size > long.MaxValue / 2) return Errno.EFBIG;
            await ResizeAsync(inode, (long)request.Size, t, ct).ConfigureAwait(false);
            TouchJournaled(inode, t);
        }
        const SetAttributeFields journaled = SetAttributeFields.Mode | SetAttributeFields.Uid | SetAttributeFields.Gid
            | SetAttributeFields.AccessTime | SetAttributeFields.ModificationTime | SetAttributeFields.AccessTimeNow | SetAttributeFields.ModificationTimeNow;
        var fields = request.Fields & journaled;
        var atime = request.Has(SetAttributeFields.AccessTimeNow) ? now : request.AccessTime;
        var mtime = request.Has(SetAttributeFields.ModificationTimeNow) ? now : request.ModificationTime;
        if (fields != 0)
        {
            _journal.AppendFor(inode, t, number => new JournalRecord
            {
                Op = JournalOp.SetAttributes, Time = t, Number = number, Fields = (uint)fields, Mode = request.Mode, Uid = request.Uid, Gid = request.Gid,
                AccessTime = Nanoseconds(atime), ModificationTime = Nanoseconds(mtime),
            });
            SessionTree.ApplySetAttributes(inode, fields, request.Mode, request.Uid, request.Gid, atime, mtime, now);
            if ((fields & SetAttributeFields.Mode) != 0 && inode.FileType != FileModes.Symlink)
            {
                // chmod of an entry with an access ACL rewrites the ACL's owner, mask (or group) and other entries.
                var list = await _tree.XattrsAsync(inode, ct).ConfigureAwait(false);
                int at = list.FindIndex(x => PosixAclRules.IsAccess(x.Name));
                if (at >= 0) await JournalSetXattrAsync(inode, PosixAclRules.AccessName, PosixAclRules.Chmod(list[at].Value, inode.Mode), t, now, ct).ConfigureAwait(false);
            }
        }
        // A truncation just touched the spool file: its state is the new baseline, not a write to take
        // later. Only then: a chmod or utimens leaves the spool file alone, and reading it again would
        // take a passthrough write landing meanwhile for the baseline without taking its size.
        if (request.Has(SetAttributeFields.Size)) RefreshFromSpool(inode, adopt: false);
        return inode.Attributes();
    }

    /// <summary>Content changed without a write (truncation): the new mtime is journaled, as a handle's writes are at release.</summary>
    private void TouchJournaled(StagedInode inode, long t)
    {
        inode.Touch(FromNanoseconds(t));
        _journal.AppendFor(inode, t, number => new JournalRecord { Op = JournalOp.Touch, Time = t, Number = number, ModificationTime = t });
    }

    public async ValueTask<Errno> SetXattrAsync(StagedInode inode, byte[] name, byte[] value, XattrSetFlags flags, CancellationToken ct)
    {
        if (_tree.CheckMine(inode) is { IsOk: false } other) return other;
        if (name.Length is 0 or > 255) return Errno.ERANGE;
        if (value.Length > 65536) return Errno.E2BIG;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = await _tree.XattrsAsync(inode, ct).ConfigureAwait(false);
        int at = list.FindIndex(x => x.Name.AsSpan().SequenceEqual(name));
        if ((flags & XattrSetFlags.Create) != 0 && at >= 0) return Errno.EEXIST;
        if ((flags & XattrSetFlags.Replace) != 0 && at < 0) return Errno.ENODATA;
        var now = Timestamp.Now;
        await JournalSetXattrAsync(inode, name, value, Nanoseconds(now), now, ct).ConfigureAwait(false);
        return Errno.Ok;
    }

    private ValueTask JournalSetXattrAsync(StagedInode inode, byte[] name, byte[] value, long t, Timestamp now, CancellationToken ct)
    {
        _journal.AppendFor(inode, t, number => new JournalRecord { Op = JournalOp.SetXattr, Time = t, Number = number, Name = name, Value = value });
        return _tree.ApplySetXattrAsync(inode, name, value, now, ct);
    }

    private async ValueTask JournalRemoveXattrAsync(StagedInode inode, byte[] name, long t, Timestamp now, CancellationToken ct)
    {
        if ((await _tree.XattrsAsync(inode, ct).ConfigureAwait(false)).FindIndex(x => x.Name.AsSpan().SequenceEqual(name)) < 0) return;
        _journal.AppendFor(inode, t, number => new JournalRecord { Op = JournalOp.RemoveXattr, Time = t, Number = number, Name = name });
        await _tree.ApplyRemoveXattrAsync(inode, name, now, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// setxattr of system.posix_acl_access/_default (already checked with
    /// <see cref="PosixAclRules.CheckSettable"/>), as a local filesystem does it: an access ACL
    /// sets the permission bits (group bits from its mask) and is kept only when it says more
    /// than the mode; a default ACL is kept as given; an empty value removes the ACL.
    /// </summary>
    /// <param name="keepSetGid">false when the caller is neither in the file's group nor root: the set-group-ID bit goes</param>
    public async ValueTask<Errno> SetAclAsync(StagedInode inode, byte[] name, byte[] value, bool empty, bool keepSetGid, CancellationToken ct)
    {
        if (_tree.CheckMine(inode) is { IsOk: false } other) return other;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        long t = Nanoseconds(now);
        if (empty)
        {
            await JournalRemoveXattrAsync(inode, name, t, now, ct).ConfigureAwait(false);
            return Errno.Ok;
        }
        if (PosixAclRules.IsAccess(name))
        {
            uint mode = (inode.Mode & ~0x1FFu) | PosixAclRules.PermissionsOf(value);
            if (!keepSetGid) mode &= ~SetGroupId;
            _journal.AppendFor(inode, t, number => new JournalRecord { Op = JournalOp.SetAttributes, Time = t, Number = number, Fields = (uint)SetAttributeFields.Mode, Mode = mode });
            SessionTree.ApplySetAttributes(inode, SetAttributeFields.Mode, mode, 0, 0, default, default, now);
            if (PosixAclRules.IsMinimal(value))
            {
                await JournalRemoveXattrAsync(inode, name, t, now, ct).ConfigureAwait(false);
                return Errno.Ok;
            }
        }
        await JournalSetXattrAsync(inode, name, value, t, now, ct).ConfigureAwait(false);
        return Errno.Ok;
    }

    /// <summary>removexattr of an ACL: like a local filesystem, removing one that is not there is no error.</summary>
    public async ValueTask<Errno> RemoveAclAsync(StagedInode inode, byte[] name, CancellationToken ct)
    {
        if (_tree.CheckMine(inode) is { IsOk: false } other) return other;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var now = Timestamp.Now;
        await JournalRemoveXattrAsync(inode, name, Nanoseconds(now), now, ct).ConfigureAwait(false);
        return Errno.Ok;
    }

    public async ValueTask<Errno> RemoveXattrAsync(StagedInode inode, byte[] name, CancellationToken ct)
    {
        if (_tree.CheckMine(inode) is { IsOk: false } other) return other;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = await _tree.XattrsAsync(inode, ct).ConfigureAwait(false);
        if (list.FindIndex(x => x.Name.AsSpan().SequenceEqual(name)) < 0) return Errno.ENODATA;
        var now = Timestamp.Now;
        await JournalRemoveXattrAsync(inode, name, Nanoseconds(now), now, ct).ConfigureAwait(false);
        return Errno.Ok;
    }
}
