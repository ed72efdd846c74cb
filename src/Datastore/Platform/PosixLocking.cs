using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.Datastore.Platform;

/// <summary>
/// The libc calls behind the lock files PBS and BackupFs share: open (files and directories,
/// never through a symlink), flock, fcntl record locks (open-file-description locks, which
/// conflict with PBS's classic POSIX record locks exactly as another process's would, but are
/// not dropped when some other descriptor of the same file is closed), fstat/stat inodes, fchown.
/// </summary>
public static unsafe partial class PosixLocking
{
    public const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
    public const short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    private const int F_SETLK = 6, F_OFD_SETLK = 37;

    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    /// <summary>Opens (creating with <paramref name="mode"/> if needed) a lock file read-write; refuses a symlink.</summary>
    public static SafeFileHandle OpenLockFile(string path, uint mode) =>
        Open(path, OpenFlags.ReadWrite | OpenFlags.Append | OpenFlags.Create | OpenFlags.NoFollow, mode);

    /// <summary>Opens a file for record locks (read-write, created if missing); refuses a symlink.</summary>
    public static SafeFileHandle OpenRecordLockFile(string path) =>
        Open(path, OpenFlags.ReadWrite | OpenFlags.Create | OpenFlags.NoFollow, 0b110_100_100);

    /// <summary>Opens a directory read-only so it can be flock-ed (PBS's old in-directory locks); refuses a symlink.</summary>
    public static SafeFileHandle OpenDirectory(string path) =>
        Open(path, OpenFlags.ReadOnly | OpenFlags.Directory | OpenFlags.NoFollow, 0);

    private static SafeFileHandle Open(string path, int flags, uint mode)
    {
        var p = Posix.Terminate(Encoding.UTF8.GetBytes(path));
        int fd;
        fixed (byte* pp = p) fd = LibC.open(pp, flags | OpenFlags.CloseOnExec, mode);
        if (fd < 0) throw new PosixException("open", path, Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Non-blocking flock; false when someone else holds a conflicting lock.</summary>
    public static bool TryFlock(SafeFileHandle handle, bool exclusive)
    {
        int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
        while (true)
        {
            if (LibC.flock((int)handle.DangerousGetHandle(), op) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR) continue;
            if (errno == Errno.EWOULDBLOCK) return false;
            throw new PosixException("flock", "", errno);
        }
    }

    /// <summary>
    /// Sets, converts or clears the open-file-description record lock over the whole file
    /// (F_OFD_SETLK, non-blocking); false when another holder's lock conflicts.
    /// </summary>
    public static bool TrySetRecordLock(SafeFileHandle handle, short type) => SetRecordLock(handle, type, F_OFD_SETLK);

    /// <summary>The same with a classic per-process POSIX record lock (F_SETLK), as PBS takes it.</summary>
    public static bool TrySetProcessRecordLock(SafeFileHandle handle, short type) => SetRecordLock(handle, type, F_SETLK);

    private static bool SetRecordLock(SafeFileHandle handle, short type, int command)
    {
        var op = new Flock { Type = type, Whence = 0, Start = 0, Length = 0, Pid = 0 };
        while (true)
        {
            if (LibC.fcntl((int)handle.DangerousGetHandle(), command, &op) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR) continue;
            if (errno is Errno.EWOULDBLOCK or Errno.EACCES) return false;
            throw new PosixException("fcntl", "", errno);
        }
    }

    /// <summary>Inode of an open descriptor.</summary>
    public static ulong Inode(SafeFileHandle handle)
    {
        byte* buf = stackalloc byte[256];
        byte empty = 0;
        if (LibC.statx((int)handle.DangerousGetHandle(), &empty, LibC.AtEmptyPath, 0x100 /* STATX_INO */, buf) != 0)
            throw new PosixException("statx", "", Marshal.GetLastPInvokeError());
        return *(ulong*)(buf + 32);
    }

    /// <summary>Inode of the file a path names now (symlinks not followed), or null if there is none.</summary>
    public static ulong? InodeOfPath(string path) => Posix.TryLStat(Encoding.UTF8.GetBytes(path))?.Inode;

    /// <summary>Changes owner and group of an open descriptor (best effort; false when refused).</summary>
    public static bool TryChown(SafeFileHandle handle, int uid, int gid) =>
        LibC.fchown((int)handle.DangerousGetHandle(), uid, gid) == 0;
}
