using BackupFs.Datastore.Platform;
using BackupFs.FsHost.Vfs;
using Errno = BackupFs.FsHost.Vfs.Errno;
using Microsoft.Win32.SafeHandles;
using static BackupFs.FsHost.Staging.Timestamps;

namespace BackupFs.FsHost.Staging;

/// <summary>Open files: copy-on-write into spool files, writes, truncation, release.</summary>
public sealed partial class StagingSession
{

    public async ValueTask<VfsResult<StagedFileHandle>> OpenAsync(StagedInode inode, int flags, CancellationToken ct)
    {
        if (_tree.CheckMine(inode) is { IsOk: false } other) return other;
        if (inode.IsDirectory) return Errno.EISDIR;
        if (!inode.IsRegular) return Errno.EACCES;
        bool write = OpenFlags.Writes(flags);
        bool truncate = (flags & OpenFlags.Truncate) != 0 && write;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        SafeFileHandle? spool = null;
        if (write)
        {
            long t = Nanoseconds(Timestamp.Now);
            await ResizeAsync(inode, truncate ? 0 : inode.Size, t, ct).ConfigureAwait(false);
            if (truncate) TouchJournaled(inode, t);
            spool = File.OpenHandle(inode.SpoolPath!, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            Interlocked.Increment(ref _openWriters);
            RefreshFromSpool(inode); // the baseline later passthrough writes are told from
        }
        else if (inode.SpoolPath is { } path) spool = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        inode.CountOpen(+1, write);
        return new StagedFileHandle(inode, write, spool, _tree.Base) { SizeAtOpen = inode.Size };
    }

    /// <summary>
    /// Writes through a handle (no gate: the spool file takes concurrent positional writes).
    /// When the spool disk is full the file keeps only what was stored before the first lost
    /// write (the kernel's writeback sends blocks out of order, so later blocks may have landed
    /// beyond a gap): it is cut there, later writes beyond it fail too, and the size says what
    /// the file holds. Content from before this handle is never cut. ENOSPC/EDQUOT come back as errnos.
    /// </summary>
    public Errno Write(StagedFileHandle handle, long offset, ReadOnlySpan<byte> data)
    {
        if (!handle.CanWrite || handle.Spool is null) return Errno.EBADF;
        var inode = handle.Inode;
        if (handle.FailedAt is { } failed && offset + data.Length > Math.Max(failed, handle.SizeAtOpen))
        {
            lock (handle) CutAfterFailure(handle, offset);
            return Errno.ENOSPC;
        }
        try { handle.Write(offset, data); }
        catch (IOException e) when (e.HResult is 28 or 122) // ENOSPC, EDQUOT
        {
            lock (handle) CutAfterFailure(handle, offset);
            return new Errno(e.HResult);
        }
        lock (handle)
        {
            // A write on another thread failed while this one ran: the space its cut freed may have
            // taken this write beyond the cut. Cut again, so the file stays a prefix without gaps.
            if (handle.FailedAt is { } lost && offset + data.Length > Math.Max(lost, handle.SizeAtOpen))
            {
                CutAfterFailure(handle, offset);
                return Errno.ENOSPC;
            }
            inode.Wrote(offset + data.Length, _ctx.KernelKeepsWriteTimes ? null : Timestamp.Now);
        }
        MarkChanged();
        return Errno.Ok;
    }

    /// <summary>Records a lost write at <paramref name="offset"/> and cuts the spool file (and size) back to the stored prefix.</summary>
    private void CutAfterFailure(StagedFileHandle handle, long offset)
    {
        var spool = handle.Spool!;
        handle.FailedAt = Math.Min(handle.FailedAt ?? long.MaxValue, offset);
        long cut = Math.Max(handle.FailedAt.Value, handle.SizeAtOpen);
        if (RandomAccess.GetLength(spool) > cut) RandomAccess.SetLength(spool, cut); // shrinking needs no space
        handle.Inode.Size = RandomAccess.GetLength(spool);
        handle.Inode.Touch(Timestamp.Now);
        MarkChanged();
    }

    public async ValueTask<Errno> FsyncAsync(StagedFileHandle handle, CancellationToken ct)
    {
        if (handle.Spool is { } spool) RandomAccess.FlushToDisk(spool);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        RecordWrite(handle);
        _journal.Flush();
        return Errno.Ok;
    }

    public async ValueTask ReleaseAsync(StagedFileHandle handle, CancellationToken ct)
    {
        using var _ = await EnterAsync(CancellationToken.None).ConfigureAwait(false);
        var inode = handle.Inode;
        try { RecordWrite(handle); }
        finally
        {
            handle.Dispose();
            inode.CountOpen(-1, handle.CanWrite);
            if (handle.CanWrite) Interlocked.Decrement(ref _openWriters);
            if (inode.Nameless) Orphaned(inode);
            else if (handle.CanWrite && inode.OpenWriters == 0) _ctx.Preparer.FileClosed(inode);
        }
    }

    /// <summary>
    /// A directory's regular files in archive (name) order, read under the gate, for the background
    /// preparer; null when it is not a listed directory of this session any more.
    /// </summary>
    internal async ValueTask<List<StagedInode>?> FilesInArchiveOrderAsync(StagedInode dir, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (_tree.CheckMine(dir) is { IsOk: false } || dir.Children is not { } children || dir.Nameless && !ReferenceEquals(dir, Root)) return null;
        // Latin-1 keys map bytes to chars one to one, so ordinal order is the archive's byte order.
        var sorted = children.ToList();
        sorted.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return sorted.Select(static kv => kv.Value).ToList();
    }

    /// <summary>True when the kernel writes staged files itself (FUSE passthrough to the spool files).</summary>
    internal bool PassesThrough => _ctx.KernelPassesThrough;

    /// <summary>
    /// Under passthrough the kernel writes the spool file without a request: when its size or mtime
    /// moved since last seen, they become the inode's (the content version moves on with them).
    /// True when something changed.
    /// </summary>
    /// <param name="adopt">false: only note the spool file's state as the baseline (after a change the
    /// session made itself, so that its own touch of the spool file is not taken for a write)</param>
    internal bool RefreshFromSpool(StagedInode inode, bool adopt = true)
    {
        if (!_ctx.KernelPassesThrough || inode.SpoolPath is not { } path) return false;
        PosixStat st;
        try { st = Posix.LStat(Posix.PathBytes(path)); }
        catch (PosixException) { return false; }
        var mtime = new Timestamp(st.MtimeSeconds, st.MtimeNanoseconds);
        if (adopt) return inode.SpoolObserved(st.Size, mtime);
        inode.SpoolBaseline(st.Size, mtime);
        return false;
    }

    /// <summary>Journals the mtime a handle's writes left (once per handle, not per write).</summary>
    private void RecordWrite(StagedFileHandle handle)
    {
        if (handle.CanWrite && _ctx.KernelPassesThrough)
        {
            if (RefreshFromSpool(handle.Inode)) handle.Wrote = true;
            // Same size and an mtime within the clock's tick can hide a passthrough write: whatever was
            // prepared from this content before is not trusted after a writer had it.
            else handle.Inode.ContentMayHaveChanged();
        }
        if (!handle.Wrote) return;
        handle.Wrote = false;
        var inode = handle.Inode;
        long t = Nanoseconds(Timestamp.Now);
        _journal.AppendFor(inode, t, number => new JournalRecord { Op = JournalOp.Touch, Time = t, Number = number, ModificationTime = Nanoseconds(inode.ModificationTime) });
    }

    /// <summary>
    /// Makes the content a spool file of <paramref name="size"/> bytes: copies the base content
    /// (up to that size) on first use, or the spool file a commit is still reading (pinned), then
    /// truncates or extends. ENOSPC surfaces as an IOException (the caller maps it).
    /// </summary>
    private async ValueTask ResizeAsync(StagedInode inode, long size, long t, CancellationToken ct)
    {
        var current = inode.SpoolPath;
        if (current is null || _spool.IsPinned(current))
        {
            _journal.File();
            var (path, generation) = await _spool.CopyAsync(inode, _tree.Base, size, ct).ConfigureAwait(false);
            _journal.AppendFor(inode, t, number => new JournalRecord { Op = JournalOp.Spool, Time = t, Number = number, Flags = generation });
            if (current is not null) _spool.Drop(current);
            inode.SpoolPath = path;
        }
        else if (size != inode.Size) SessionSpool.SetLength(current, size);
        if (size != inode.Size) MarkChanged();
        inode.Size = size;
    }
}
