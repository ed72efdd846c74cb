using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using BackupFs.FsHost.Tree;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// The filesystem operations below MOUNTPOINT/staging, for the tree's <see cref="IFileSystem"/>
/// to delegate to: node ids come from the mount's shared node table, handles from their own
/// range (<see cref="OwnsHandle"/>). Errors become errnos here: a refused change its errno, a
/// full spool disk ENOSPC, anything unexpected EIO with one log line.
/// Control attributes on a session directory: setxattr user.backupfs.commit commits now (the
/// reply waits for it), user.backupfs.discard drops uncommitted changes; getxattr
/// user.backupfs.snapshot, .last-commit and .error report.
/// </summary>
public sealed class StagingFileSystem
{
    public const ulong HandleBase = 1UL << 62;
    public const string CommitXattr = "user.backupfs.commit";
    public const string DiscardXattr = "user.backupfs.discard";
    public const string SnapshotXattr = "user.backupfs.snapshot";
    public const string LastCommitXattr = "user.backupfs.last-commit";
    public const string ErrorXattr = "user.backupfs.error";
    /// <summary>Inside sessions every change comes through the kernel, so its caches stay right: cache long
    /// (each request saved is a round trip per file for rsync). Discard tells the kernel itself.</summary>
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(30);
    /// <summary>Above sessions, groups appear when other backups run.</summary>
    private static readonly TimeSpan VirtualTimeout = TimeSpan.FromSeconds(1);

    private readonly StagingArea _area;
    private readonly NodeTable _nodes;
    private readonly TreeErrorLog _errors;
    private readonly ConcurrentDictionary<ulong, StagedFileHandle> _files = new();
    private readonly ConcurrentDictionary<ulong, List<(byte[] Name, StagedInode Inode)>> _listings = new();
    private long _nextHandle = (long)HandleBase;

    public StagingFileSystem(StagingArea area, NodeTable nodes, TreeErrorLog errors)
    {
        _area = area;
        _nodes = nodes;
        _errors = errors;
    }

    public static bool OwnsHandle(ulong handle) => handle >= HandleBase;
    private ulong NextHandle() => (ulong)Interlocked.Increment(ref _nextHandle);

    /// <summary>Set once the kernel connection is up.</summary>
    public IKernelNotifier? Notifier { get; set; }

    private static TimeSpan TimeoutFor(StagedInode inode) => inode.Role == StagedRole.Virtual ? VirtualTimeout : SessionTimeout;

    private EntryInfo Entry(StagedInode inode) => new()
    {
        NodeId = _nodes.AddLookup(inode),
        Attributes = inode.Attributes(),
        EntryTimeout = TimeoutFor(inode),
        AttributeTimeout = TimeoutFor(inode),
    };

    private Errno Fail(string operation, Exception e)
    {
        switch (e)
        {
            case StagingException s: return s.Errno;
            case OperationCanceledException: return Errno.EINTR;
            case IOException io when io.HResult is 28 or 122: return new Errno(io.HResult); // ENOSPC, EDQUOT
            case UnauthorizedAccessException: _errors.Report("staging " + operation, e); return Errno.EACCES;
            default: _errors.Report("staging " + operation, e); return Errno.EIO;
        }
    }

    private static StagingSession SessionOf(StagedInode dir) =>
        dir.Session ?? throw new StagingException(Errno.EINVAL, "only sessions (staging/[ns/<name>/...]<type>/<id>/) hold files");

    // ---- names and attributes ----

    public async ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, StagedInode dir, ReadOnlyMemory<byte> name)
    {
        try
        {
            if (!dir.IsDirectory) return Errno.ENOTDIR;
            var bytes = name.ToArray();
            if (dir.Role == StagedRole.Virtual)
                return await _area.LookupAsync(dir, bytes, ctx.SessionEnding).ConfigureAwait(false) is { } known ? Entry(known) : Errno.ENOENT;
            var child = await dir.Session!.LookupAsync(dir, bytes, ctx.SessionEnding).ConfigureAwait(false);
            if (child.IsOk) return Entry(child.Value);
            return child.Error == Errno.ENOENT ? EntryInfo.Negative(SessionTimeout) : child.Error;
        }
        catch (Exception e) { return Fail("lookup", e); }
    }

    public VfsResult<AttributeInfo> GetAttributes(StagedInode inode) => new AttributeInfo(inode.Attributes(), TimeoutFor(inode));

    public async ValueTask<VfsResult<AttributeInfo>> SetAttributes(RequestContext ctx, StagedInode inode, SetAttributesRequest request)
    {
        if (inode.Role == StagedRole.Virtual) return Errno.EPERM;
        try
        {
            var attributes = await inode.Session!.SetAttributesAsync(inode, request, ctx.SessionEnding).ConfigureAwait(false);
            return attributes.IsOk ? new AttributeInfo(attributes.Value, SessionTimeout) : attributes.Error;
        }
        catch (Exception e) { return Fail("setattr", e); }
    }

    public VfsResult<ReadOnlyMemory<byte>> ReadLink(StagedInode inode) =>
        inode.SymlinkTarget is { } target ? (ReadOnlyMemory<byte>)target : Errno.EINVAL;

    // ---- files ----

    public async ValueTask<VfsResult<OpenInfo>> Open(RequestContext ctx, StagedInode inode, int flags)
    {
        if (inode.IsDirectory) return Errno.EISDIR;
        try
        {
            var handle = await SessionOf(inode).OpenAsync(inode, flags, ctx.SessionEnding).ConfigureAwait(false);
            if (!handle.IsOk) return handle.Error;
            ulong id = NextHandle();
            _files[id] = handle.Value;
            return new OpenInfo(id);
        }
        catch (Exception e) { return Fail("open", e); }
    }

    public async ValueTask<VfsResult<int>> Read(RequestContext ctx, ulong handle, long offset, Memory<byte> destination)
    {
        if (!_files.TryGetValue(handle, out var file)) return Errno.EBADF;
        try { return await file.ReadAsync(offset, destination, ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return Fail("read", e); }
    }

    public VfsResult<int> Write(ulong handle, long offset, ReadOnlyMemory<byte> data)
    {
        if (!_files.TryGetValue(handle, out var file)) return Errno.EBADF;
        try
        {
            var written = file.Inode.Session!.Write(file, offset, data.Span);
            return written.IsOk ? data.Length : written;
        }
        catch (Exception e) { return Fail("write", e); }
    }

    public async ValueTask<Errno> Fsync(RequestContext ctx, ulong handle)
    {
        if (!_files.TryGetValue(handle, out var file)) return Errno.EBADF;
        try
        {
            return await file.Inode.Session!.FsyncAsync(file, ctx.SessionEnding).ConfigureAwait(false);
        }
        catch (Exception e) { return Fail("fsync", e); }
    }

    public async ValueTask<Errno> Release(ulong handle)
    {
        if (!_files.TryRemove(handle, out var file)) return Errno.Ok;
        try
        {
            await file.Inode.Session!.ReleaseAsync(file, CancellationToken.None).ConfigureAwait(false);
            if (file.FailedAt is not null) ForgetCachedSize(file.Inode);
            return Errno.Ok;
        }
        catch (Exception e) { return Fail("release", e); }
    }

    // ---- directories ----

    public async ValueTask<VfsResult<OpenInfo>> OpenDirectory(RequestContext ctx, StagedInode dir)
    {
        if (!dir.IsDirectory) return Errno.ENOTDIR;
        try
        {
            // The listing is fixed at opendir, so readdir cookies (positions in it) stay stable.
            List<(byte[] Name, StagedInode Inode)> listing;
            if (dir.Role == StagedRole.Virtual) listing = await _area.ListAsync(dir, ctx.SessionEnding).ConfigureAwait(false);
            else
            {
                var listed = await dir.Session!.ListAsync(dir, ctx.SessionEnding).ConfigureAwait(false);
                if (!listed.IsOk) return listed.Error;
                listing = listed.Value;
            }
            ulong id = NextHandle();
            _listings[id] = listing;
            return new OpenInfo(id);
        }
        catch (Exception e) { return Fail("opendir", e); }
    }

    public Errno ReadDirectory(ulong handle, ulong offset, DirectoryEntryWriter writer)
    {
        if (!_listings.TryGetValue(handle, out var listing)) return Errno.EBADF;
        for (int i = (int)Math.Min(offset, (ulong)listing.Count); i < listing.Count; i++)
        {
            var (name, inode) = listing[i];
            ulong next = (ulong)i + 1;
            if (writer.IsPlus)
            {
                var entry = Entry(inode);
                if (!writer.TryAddPlus(name, entry, next))
                {
                    _nodes.Forget(entry.NodeId, 1); // not sent: take the count back
                    break;
                }
            }
            else if (!writer.TryAdd(name, inode.StableInode, inode.Mode, next)) break;
        }
        return Errno.Ok;
    }

    public void ReleaseDirectory(ulong handle) => _listings.TryRemove(handle, out _);

    public VfsResult<FileSystemStatistics> GetStatistics()
    {
        try
        {
            var drive = new DriveInfo(_area.Context.Store.PrivateDir);
            const uint block = 4096;
            return new FileSystemStatistics((ulong)drive.TotalSize / block, (ulong)drive.TotalFreeSpace / block,
                (ulong)drive.AvailableFreeSpace / block, (ulong)_nodes.Count, 1UL << 32, block);
        }
        catch (Exception e) { return Fail("statfs", e); }
    }

    // ---- extended attributes (and the control attributes of a session directory) ----

    public async ValueTask<VfsResult<int>> GetXattr(RequestContext ctx, StagedInode inode, ReadOnlyMemory<byte> name, Memory<byte> destination)
    {
        try
        {
            byte[]? value;
            if (inode.Role == StagedRole.SessionRoot && Control(name.Span) is { } control) value = ControlValue(inode.Session!, control);
            else if (inode.Role == StagedRole.Virtual) value = null;
            else value = (await inode.Session!.GetXattrsAsync(inode, ctx.SessionEnding).ConfigureAwait(false))
                .FirstOrDefault(x => x.Name.AsSpan().SequenceEqual(name.Span)).Value;
            return XattrReplies.Value(value, destination);
        }
        catch (Exception e) { return Fail("getxattr", e); }
    }

    public async ValueTask<VfsResult<int>> ListXattr(RequestContext ctx, StagedInode inode, Memory<byte> destination)
    {
        if (inode.Role == StagedRole.Virtual) return 0;
        try
        {
            return XattrReplies.Names(await inode.Session!.GetXattrsAsync(inode, ctx.SessionEnding).ConfigureAwait(false), destination);
        }
        catch (Exception e) { return Fail("listxattr", e); }
    }

    public async ValueTask<Errno> SetXattr(RequestContext ctx, StagedInode inode, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags)
    {
        if (inode.Role == StagedRole.Virtual) return Errno.EPERM;
        try
        {
            var session = inode.Session!;
            switch (inode.Role == StagedRole.SessionRoot ? Control(name.Span) : null)
            {
                case CommitXattr:
                    await _area.CommitAsync(session, ctx.SessionEnding).ConfigureAwait(false);
                    return Errno.Ok;
                case DiscardXattr:
                    if (await session.DiscardAsync(ctx.SessionEnding).ConfigureAwait(false) is { IsOk: false } busy) return busy;
                    ForgetCachedTree(inode);
                    return Errno.Ok;
                case not null:
                    return Errno.EPERM; // the report attributes are read-only
            }
            if (PosixAclRules.IsAccess(name.Span) || PosixAclRules.IsDefault(name.Span))
            {
                if (PosixAclRules.CheckSettable(inode, name.Span, value.Span, ctx, out bool empty) is { IsOk: false } refused) return refused;
                return await session.SetAclAsync(inode, name.ToArray(), value.ToArray(), empty, CallerGroups.InGroupOrRoot(ctx, inode.Gid), ctx.SessionEnding).ConfigureAwait(false);
            }
            return await session.SetXattrAsync(inode, name.ToArray(), value.ToArray(), flags, ctx.SessionEnding).ConfigureAwait(false);
        }
        catch (Exception e) { return Fail("setxattr", e); }
    }

    public async ValueTask<Errno> RemoveXattr(RequestContext ctx, StagedInode inode, ReadOnlyMemory<byte> name)
    {
        if (inode.Role == StagedRole.Virtual) return Errno.ENODATA;
        try
        {
            if (PosixAclRules.IsAccess(name.Span) || PosixAclRules.IsDefault(name.Span))
                return await inode.Session!.RemoveAclAsync(inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
            return await inode.Session!.RemoveXattrAsync(inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
        }
        catch (Exception e) { return Fail("removexattr", e); }
    }

    /// <summary>
    /// After a discard the session's tree is the base again: the kernel must drop what it cached
    /// below it. Done after the reply (the kernel may hold the directory while it waits for it).
    /// </summary>
    private void ForgetCachedTree(StagedInode sessionRoot)
    {
        if (Notifier is not { } notifier || sessionRoot.FirstLink is not { Parent: { } parent } link) return;
        _ = Task.Run(async () =>
        {
            await Task.Delay(50).ConfigureAwait(false);
            if (parent.Id != 0) notifier.InvalidateEntry(parent.Id, link.Name);
            if (sessionRoot.Id != 0) notifier.InvalidateNode(sessionRoot.Id, -1);
        });
    }

    /// <summary>
    /// After writes were lost to a full spool disk: with the writeback cache the kernel keeps the
    /// size its cached writes gave the file while it holds the inode, whatever getattr says. Drop
    /// its names and pages so the inode goes once unused, and the next lookup shows the stored size.
    /// </summary>
    private void ForgetCachedSize(StagedInode inode)
    {
        if (Notifier is not { } notifier) return;
        var links = inode.Links.Select(l => (l.Parent.Id, l.Name)).ToList();
        ulong id = inode.Id;
        _ = Task.Run(async () =>
        {
            await Task.Delay(50).ConfigureAwait(false);
            if (id != 0) notifier.InvalidateNode(id, 0);
            foreach (var (parent, name) in links)
                if (parent != 0) notifier.InvalidateEntry(parent, name);
        });
    }

    private static string? Control(ReadOnlySpan<byte> name) =>
        name.StartsWith("user.backupfs."u8) ? Encoding.ASCII.GetString(name) : null;

    private static byte[]? ControlValue(StagingSession session, string name)
    {
        string? text = name switch
        {
            SnapshotXattr => (session.LastCommitted ?? session.Base)?.RelativePath,
            ErrorXattr => session.LastError,
            LastCommitXattr when session.LastResult is { } r => string.Create(CultureInfo.InvariantCulture,
                $"snapshot={r.Snapshot.RelativePath} reused_files={r.Split.ReusedFiles} written_files={r.Split.EncodedFiles} "
                + $"reused_bytes={r.Split.ReusedBytes} written_bytes={r.Split.EncodedBytes} new_chunks={r.InsertedChunks} new_chunk_bytes={r.InsertedBytes}"),
            _ => null,
        };
        return text is null ? null : Encoding.UTF8.GetBytes(text);
    }

    // ---- changing the tree ----

    public async ValueTask<VfsResult<CreateInfo>> Create(RequestContext ctx, StagedInode dir, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags)
    {
        try
        {
            var session = SessionOf(dir);
            var inode = await session.CreateFileAsync(dir, name.ToArray(), mode, umask, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false);
            if (!inode.IsOk) return inode.Error;
            var handle = await session.OpenAsync(inode.Value, flags & ~Datastore.Platform.Posix.O_TRUNC /* it is empty */ | 2 /* writable: it was just created */, ctx.SessionEnding).ConfigureAwait(false);
            if (!handle.IsOk) return handle.Error;
            ulong id = NextHandle();
            _files[id] = handle.Value;
            return new CreateInfo(Entry(inode.Value), new OpenInfo(id));
        }
        catch (Exception e) { return Fail("create", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> MakeNode(RequestContext ctx, StagedInode dir, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev)
    {
        try
        {
            var session = SessionOf(dir);
            var inode = (mode & FileModes.TypeMask) is FileModes.Regular or 0
                ? await session.CreateFileAsync(dir, name.ToArray(), mode, umask, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false)
                : await session.MakeSpecialAsync(dir, name.ToArray(), mode, umask, (rdev & 0xfff00) >> 8, (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
                    ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false);
            return inode.IsOk ? Entry(inode.Value) : inode.Error;
        }
        catch (Exception e) { return Fail("mknod", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> MakeDirectory(RequestContext ctx, StagedInode dir, ReadOnlyMemory<byte> name, uint mode, uint umask)
    {
        try
        {
            if (dir.Role == StagedRole.Virtual) return Entry(await _area.MakeDirectoryAsync(dir, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false));
            var inode = await dir.Session!.MakeDirectoryAsync(dir, name.ToArray(), mode, umask, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false);
            return inode.IsOk ? Entry(inode.Value) : inode.Error;
        }
        catch (Exception e) { return Fail("mkdir", e); }
    }

    public async ValueTask<Errno> Unlink(RequestContext ctx, StagedInode dir, ReadOnlyMemory<byte> name, bool directory)
    {
        try
        {
            if (dir.Role == StagedRole.Virtual)
            {
                if (!directory) return Errno.EPERM;
                await _area.RemoveDirectoryAsync(dir, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
            }
            else return await dir.Session!.UnlinkAsync(dir, name.ToArray(), directory, ctx.SessionEnding).ConfigureAwait(false);
            return Errno.Ok;
        }
        catch (Exception e) { return Fail(directory ? "rmdir" : "unlink", e); }
    }

    public async ValueTask<Errno> Rename(RequestContext ctx, StagedInode dir, ReadOnlyMemory<byte> name, StagedInode newDir, ReadOnlyMemory<byte> newName, RenameFlags flags)
    {
        if (dir.Role == StagedRole.Virtual || newDir.Role == StagedRole.Virtual) return Errno.EPERM;
        if (dir.Session != newDir.Session) return Errno.EXDEV;
        try
        {
            return await dir.Session!.RenameAsync(dir, name.ToArray(), newDir, newName.ToArray(), flags, ctx.SessionEnding).ConfigureAwait(false);
        }
        catch (Exception e) { return Fail("rename", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> Symlink(RequestContext ctx, StagedInode dir, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target)
    {
        try
        {
            var inode = await SessionOf(dir).SymlinkAsync(dir, name.ToArray(), target.ToArray(), ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false);
            return inode.IsOk ? Entry(inode.Value) : inode.Error;
        }
        catch (Exception e) { return Fail("symlink", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> Link(RequestContext ctx, StagedInode inode, StagedInode newDir, ReadOnlyMemory<byte> newName)
    {
        if (inode.Session is null || newDir.Session != inode.Session) return newDir.Role == StagedRole.Virtual ? Errno.EPERM : Errno.EXDEV;
        try
        {
            var linked = await inode.Session.LinkAsync(inode, newDir, newName.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
            return linked.IsOk ? Entry(linked.Value) : linked.Error;
        }
        catch (Exception e) { return Fail("link", e); }
    }
}
