namespace BackupFs.Datastore.Platform;

/// <summary>
/// Gives a written file's pages back to the kernel: writes them out (data only, no journal commit)
/// and drops them from the page cache, so the memory is reused by the next writes instead of the
/// page cache growing into memory that was never used. A file read again later comes from disk.
/// </summary>
public static class PageCacheRelease
{
    /// <summary>
    /// Writes back and drops the cached pages of the regular file at <paramref name="path"/> (never
    /// through a symlink); false when it is gone, not a regular file, or the platform has no such call.
    /// </summary>
    public static unsafe bool WriteBackAndDrop(ReadOnlySpan<byte> path)
    {
        if (!OperatingSystem.IsLinux()) return false;
        var p = Posix.Terminate(path);
        int fd;
        fixed (byte* pp = p) fd = LibC.open(pp, OpenFlags.ReadOnly | OpenFlags.NoFollow | OpenFlags.NonBlock | OpenFlags.CloseOnExec, 0);
        if (fd < 0) return false;
        try
        {
            if ((Posix.FStat(fd).Mode & FileTypeBits.Mask) != FileTypeBits.Regular) return false; // a FIFO or device is not a spool file
            // Dirty pages cannot be dropped: start their writeback and wait for it, then drop the clean ones.
            const uint flags = LibC.SyncFileRangeWaitBefore | LibC.SyncFileRangeWrite | LibC.SyncFileRangeWaitAfter;
            if (LibC.sync_file_range(fd, 0, 0, flags) != 0) return false;
            return LibC.posix_fadvise(fd, 0, 0, LibC.PosixFadvDontNeed) == 0;
        }
        catch (PosixException) { return false; }
        finally { LibC.close(fd); }
    }
}
