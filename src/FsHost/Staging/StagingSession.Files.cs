using BackupFs.Datastore.Pxar;
using BackupFs.FsHost.Vfs;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Staging;

/// <summary>Open files: copy-on-write into spool files, writes, truncation, release.</summary>
public sealed partial class StagingSession
{
    private const int O_ACCMODE = 3, O_TRUNC = 0x200;

    public async ValueTask<StagedFileHandle> OpenAsync(StagedInode inode, int flags, CancellationToken ct)
    {
        CheckMine(inode);
        if (inode.IsDirectory) throw new StagingException(Errno.EISDIR);
        if (!inode.IsRegular) throw new StagingException(Errno.EACCES);
        bool write = (flags & O_ACCMODE) != 0;
        bool truncate = (flags & O_TRUNC) != 0 && write;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        SafeFileHandle? spool = null;
        if (write)
        {
            long t = Nanoseconds(Timestamp.Now);
            await ResizeAsync(inode, truncate ? 0 : inode.Size, t, ct).ConfigureAwait(false);
            if (truncate) inode.Touch(FromNanoseconds(t));
            spool = File.OpenHandle(inode.SpoolPath!, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            Interlocked.Increment(ref _openWriters);
            inode.OpenWriters++;
        }
        else if (inode.SpoolPath is { } path) spool = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        inode.OpenHandles++;
        return new StagedFileHandle(inode, write, spool, _baseAccessor) { SizeAtOpen = inode.Size };
    }

    /// <summary>
    /// Writes through a handle (no gate: the spool file takes concurrent positional writes).
    /// When the spool disk is full the file keeps only what was stored before the first lost
    /// write (the kernel's writeback sends blocks out of order, so later blocks may have landed
    /// beyond a gap): it is cut there, later writes beyond it fail too, and the size says what
    /// the file holds. Content from before this handle is never cut.
    /// </summary>
    public void Write(StagedFileHandle handle, long offset, ReadOnlySpan<byte> data)
    {
        var inode = handle.Inode;
        if (handle.FailedAt is { } failed && offset + data.Length > Math.Max(failed, handle.SizeAtOpen))
        {
            lock (inode) CutAfterFailure(handle, offset);
            throw new StagingException(Errno.ENOSPC, "an earlier write to this file did not fit on the spool disk");
        }
        try { handle.Write(offset, data); }
        catch (IOException e) when (e.HResult is 28 or 122 && handle.Spool is not null) // ENOSPC, EDQUOT
        {
            lock (inode) CutAfterFailure(handle, offset);
            throw;
        }
        var now = Timestamp.Now;
        lock (inode)
        {
            inode.Size = Math.Max(inode.Size, offset + data.Length);
            if (!_ctx.KernelKeepsWriteTimes) inode.Touch(now);
        }
        MarkChanged();
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

    public async ValueTask FsyncAsync(StagedFileHandle handle, CancellationToken ct)
    {
        if (handle.Spool is { } spool) RandomAccess.FlushToDisk(spool);
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        RecordWrite(handle);
        _journal?.Flush();
    }

    public async ValueTask ReleaseAsync(StagedFileHandle handle, CancellationToken ct)
    {
        using var _ = await EnterAsync(CancellationToken.None).ConfigureAwait(false);
        var inode = handle.Inode;
        try { RecordWrite(handle); }
        finally
        {
            handle.Dispose();
            inode.OpenHandles--;
            if (handle.CanWrite)
            {
                inode.OpenWriters--;
                Interlocked.Decrement(ref _openWriters);
            }
            if (inode.Links.Count == 0 && inode.PendingBaseLinks == 0) Orphaned(inode);
        }
    }

    /// <summary>Journals the mtime a handle's writes left (once per handle, not per write).</summary>
    private void RecordWrite(StagedFileHandle handle)
    {
        if (!handle.Wrote) return;
        handle.Wrote = false;
        var inode = handle.Inode;
        long t = Nanoseconds(Timestamp.Now);
        if (TryBind(inode, t, out var number))
            Append(new JournalRecord { Op = JournalOp.Touch, Time = t, Number = number, ModificationTime = Nanoseconds(inode.ModificationTime) });
    }

    /// <summary>
    /// Makes the content a spool file of <paramref name="size"/> bytes: copies the base content
    /// (up to that size) on first use, then truncates or extends. ENOSPC surfaces as such.
    /// </summary>
    private async ValueTask ResizeAsync(StagedInode inode, long size, long t, CancellationToken ct)
    {
        if (inode.SpoolPath is null)
        {
            var spool = SpoolPathFor(inode.Number);
            var temp = spool + ".copy";
            Journal();
            try
            {
                using (var h = StagingFiles.OpenHandle(temp, FileMode.Create, FileAccess.Write))
                {
                    long keep = Math.Min(size, inode.Size);
                    if (keep > 0) await CopyBaseAsync(inode, h, keep, ct).ConfigureAwait(false);
                    RandomAccess.SetLength(h, size);
                }
                File.Move(temp, spool, overwrite: true);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
            if (TryBind(inode, t, out var number)) Append(new JournalRecord { Op = JournalOp.Spool, Time = t, Number = number });
            inode.SpoolPath = spool;
        }
        else if (size != inode.Size)
        {
            using var h = File.OpenHandle(inode.SpoolPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.SetLength(h, size);
            MarkChanged();
        }
        if (size != inode.Size) MarkChanged();
        inode.Size = size;
    }

    private async ValueTask CopyBaseAsync(StagedInode inode, SafeFileHandle target, long length, CancellationToken ct)
    {
        if (inode.BaseEntry is not { Kind: PxarEntryKind.File } entry || _baseAccessor is null) return;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long at = 0; at < length;)
            {
                int n = await _baseAccessor.ReadFileAsync(entry, at, buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - at)), ct).ConfigureAwait(false);
                if (n == 0) throw new Datastore.Formats.FormatCorruptException($"base file '{entry.NameString}' ends before its size");
                RandomAccess.Write(target, buffer.AsSpan(0, n), at);
                at += n;
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }
}
