using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Store;

/// <summary>
/// Sets a chunk file's access time to now without touching mtime (utimensat with UTIME_OMIT),
/// which is how PBS's garbage collection marks chunks as in use.
/// </summary>
internal static partial class ChunkFileTimes
{
    private const long UtimeNow = (1L << 30) - 1;
    private const long UtimeOmit = (1L << 30) - 2;
    private const int AtFdCwd = -100;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Sec; public long Nsec; }

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int utimensat(int dirfd, string path, Timespec* times, int flags);

    /// <summary>Returns false when the file does not exist.</summary>
    public static unsafe bool TouchAccessTime(string path)
    {
        var times = stackalloc Timespec[2];
        times[0] = new Timespec { Sec = 0, Nsec = UtimeNow };
        times[1] = new Timespec { Sec = 0, Nsec = UtimeOmit };
        // AT_SYMLINK_NOFOLLOW: a symlink planted as a chunk is touched itself, never its target.
        if (utimensat(AtFdCwd, path, times, 0x100) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == 2 /* ENOENT */) return false;
        throw new IOException($"cannot update access time of {path}: errno {errno}");
    }
}
