namespace BackupFs.Datastore.Platform;

/// <summary>
/// Gives a written file's pages back to the kernel: writes them out (data only, no journal commit)
/// and drops them from the page cache, so the memory is reused by the next writes instead of the
/// page cache growing into memory that was never used. A file read again later comes from disk.
/// </summary>
public static class PageCacheRelease
{
    /// <summary>
    /// Writes back and drops the cached pages of the regular file at <paramref name="path"/>, opened as
    /// <see cref="StoreFile.OpenRegular"/> opens (never through a symlink, a FIFO never waited on);
    /// false when it is gone, not a regular file, or the platform has no such call.
    /// </summary>
    public static bool WriteBackAndDrop(string path)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            using var handle = StoreFile.OpenRegular(path, long.MaxValue, out _);
            int fd = (int)handle.DangerousGetHandle();
            // Dirty pages cannot be dropped: start their writeback and wait for it, then drop the clean ones.
            const uint flags = LibC.SyncFileRangeWaitBefore | LibC.SyncFileRangeWrite | LibC.SyncFileRangeWaitAfter;
            if (LibC.sync_file_range(fd, 0, 0, flags) != 0) return false;
            return LibC.posix_fadvise(fd, 0, 0, LibC.PosixFadvDontNeed) == 0;
        }
        catch (Exception e) when (e is IOException or UnsafePathException or UnauthorizedAccessException) { return false; }
    }
}
