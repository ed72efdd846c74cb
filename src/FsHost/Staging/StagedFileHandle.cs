using BackupFs.Datastore.Pxar;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// An open staged file. Writers hold the spool file open; readers read the spool file when the
/// content was written, else the base snapshot's bytes.
/// </summary>
public sealed class StagedFileHandle : IDisposable
{
    private readonly PxarAccessor? _base;
    private SafeFileHandle? _spool;

    internal StagedFileHandle(StagedInode inode, bool canWrite, SafeFileHandle? spool, PxarAccessor? baseAccessor)
    {
        Inode = inode;
        CanWrite = canWrite;
        _spool = spool;
        _base = baseAccessor;
    }

    public StagedInode Inode { get; }
    public bool CanWrite { get; }
    /// <summary>Set by the first write: release then records the new mtime.</summary>
    public bool Wrote { get; internal set; }
    /// <summary>The size after open (and O_TRUNC): content up to here was there before this handle wrote.</summary>
    public long SizeAtOpen { get; internal set; }
    /// <summary>The lowest offset at which a write through this handle could not be stored (disk full), if any.</summary>
    public long? FailedAt { get; internal set; }

    internal SafeFileHandle? Spool => _spool;

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        if (_spool is null && Inode.SpoolPath is { } path)
        {
            // Written by another handle since this one opened: read what is there now.
            try { _spool = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete); }
            catch (FileNotFoundException) { }
        }
        if (_spool is { } spool)
        {
            int total = 0;
            while (total < destination.Length)
            {
                int n = RandomAccess.Read(spool, destination.Span[total..], offset + total);
                if (n == 0) break;
                total += n;
            }
            return total;
        }
        var entry = Inode.BaseEntry;
        if (_base is null || entry is null || entry.Kind != PxarEntryKind.File) return 0;
        long size = Math.Min(Inode.Size, entry.Size);
        if (offset >= size) return 0;
        int want = (int)Math.Min(destination.Length, size - offset), got = 0;
        while (got < want)
        {
            int n = await _base.ReadFileAsync(entry, offset + got, destination[got..want], ct).ConfigureAwait(false);
            if (n == 0) throw new Datastore.Formats.FormatCorruptException("pxar file data ends before its size");
            got += n;
        }
        return got;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        if (!CanWrite || _spool is null) throw new StagingException(Vfs.Errno.EBADF);
        RandomAccess.Write(_spool, data, offset);
        Wrote = true;
    }

    public void Dispose()
    {
        _spool?.Dispose();
        _spool = null;
    }
}
