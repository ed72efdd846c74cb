using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Platform;

/// <summary>
/// Every libc function the Platform folder calls, declared once. Paths are NUL-terminated raw bytes
/// (<see cref="Posix.Terminate"/>); callers read errno with Marshal.GetLastPInvokeError.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    // *at flags and special descriptors (the same on every Linux architecture).
    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const int AtRemoveDir = 0x200;
    public const int AtEmptyPath = 0x1000;
    public const uint RenameNoReplace = 1;
    public const uint StatxBasicStats = 0x7ff;

    // Threads.
    [LibraryImport(Lib, EntryPoint = "gettid")]
    public static partial int gettid();
    [LibraryImport(Lib, EntryPoint = "setpriority", SetLastError = true)]
    public static partial int setpriority(int which, int who, int priority);

    // Descriptors.
    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true)]
    public static partial int open(byte* path, int flags, uint mode);
    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true)]
    public static partial int openat(int dirfd, byte* path, int flags, uint mode);
    [LibraryImport(Lib, EntryPoint = "close")]
    public static partial int close(int fd);
    [LibraryImport(Lib, EntryPoint = "dup", SetLastError = true)]
    public static partial int dup(int fd);

    // Memory.
    public const int MadvHugePage = 14;
    [LibraryImport(Lib, EntryPoint = "madvise", SetLastError = true)]
    public static partial int madvise(void* address, nuint length, int advice);

    // Page cache.
    public const int PosixFadvDontNeed = 4;
    public const uint SyncFileRangeWaitBefore = 1, SyncFileRangeWrite = 2, SyncFileRangeWaitAfter = 4;
    [LibraryImport(Lib, EntryPoint = "posix_fadvise")]
    public static partial int posix_fadvise(int fd, long offset, long length, int advice); // returns the error, sets no errno
    [LibraryImport(Lib, EntryPoint = "sync_file_range", SetLastError = true)]
    public static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

    // Status.
    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true)]
    public static partial int statx(int dirfd, byte* path, int flags, uint mask, byte* buf);
    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint geteuid();

    // Directory listing.
    [LibraryImport(Lib, EntryPoint = "opendir", SetLastError = true)]
    public static partial nint opendir(byte* path);
    [LibraryImport(Lib, EntryPoint = "fdopendir", SetLastError = true)]
    public static partial nint fdopendir(int fd);
    [LibraryImport(Lib, EntryPoint = "readdir64", SetLastError = true)]
    public static partial nint readdir64(nint dir);
    [LibraryImport(Lib, EntryPoint = "rewinddir")]
    public static partial void rewinddir(nint dir);
    [LibraryImport(Lib, EntryPoint = "closedir")]
    public static partial int closedir(nint dir);

    // Relative to a directory descriptor.
    [LibraryImport(Lib, EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int mkdirat(int dirfd, byte* path, uint mode);
    [LibraryImport(Lib, EntryPoint = "mknodat", SetLastError = true)]
    public static partial int mknodat(int dirfd, byte* path, uint mode, ulong dev);
    [LibraryImport(Lib, EntryPoint = "symlinkat", SetLastError = true)]
    public static partial int symlinkat(byte* target, int dirfd, byte* path);
    [LibraryImport(Lib, EntryPoint = "readlinkat", SetLastError = true)]
    public static partial nint readlinkat(int dirfd, byte* path, byte* buf, nuint size);
    [LibraryImport(Lib, EntryPoint = "linkat", SetLastError = true)]
    public static partial int linkat(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, int flags);
    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int unlinkat(int dirfd, byte* path, int flags);
    [LibraryImport(Lib, EntryPoint = "renameat2", SetLastError = true)]
    public static partial int renameat2(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, uint flags);
    [LibraryImport(Lib, EntryPoint = "fchownat", SetLastError = true)]
    public static partial int fchownat(int dirfd, byte* path, uint uid, uint gid, int flags);
    [LibraryImport(Lib, EntryPoint = "fchmodat", SetLastError = true)]
    public static partial int fchmodat(int dirfd, byte* path, uint mode, int flags);
    [LibraryImport(Lib, EntryPoint = "utimensat", SetLastError = true)]
    public static partial int utimensat(int dirfd, byte* path, long* times, int flags);

    // On an open descriptor.
    [LibraryImport(Lib, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int fchmod(int fd, uint mode);
    [LibraryImport(Lib, EntryPoint = "fchown", SetLastError = true)]
    public static partial int fchown(int fd, int uid, int gid);
    [LibraryImport(Lib, EntryPoint = "flock", SetLastError = true)]
    public static partial int flock(int fd, int operation);
    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, void* arg);

    // By path (the calls without an *at form in use here).
    [LibraryImport(Lib, EntryPoint = "llistxattr", SetLastError = true)]
    public static partial nint llistxattr(byte* path, byte* list, nuint size);
    [LibraryImport(Lib, EntryPoint = "lgetxattr", SetLastError = true)]
    public static partial nint lgetxattr(byte* path, byte* name, byte* value, nuint size);
    [LibraryImport(Lib, EntryPoint = "lsetxattr", SetLastError = true)]
    public static partial int lsetxattr(byte* path, byte* name, byte* value, nuint size, int flags);
    [LibraryImport(Lib, EntryPoint = "lchown", SetLastError = true)]
    public static partial int lchown(byte* path, uint uid, uint gid);
    [LibraryImport(Lib, EntryPoint = "chmod", SetLastError = true)]
    public static partial int chmod(byte* path, uint mode);
    [LibraryImport(Lib, EntryPoint = "mkdir", SetLastError = true)]
    public static partial int mkdir(byte* path, uint mode);
    [LibraryImport(Lib, EntryPoint = "mknod", SetLastError = true)]
    public static partial int mknod(byte* path, uint mode, ulong dev);
    [LibraryImport(Lib, EntryPoint = "mkfifo", SetLastError = true)]
    public static partial int mkfifo(byte* path, uint mode);
    [LibraryImport(Lib, EntryPoint = "link", SetLastError = true)]
    public static partial int link(byte* oldPath, byte* newPath);
    [LibraryImport(Lib, EntryPoint = "symlink", SetLastError = true)]
    public static partial int symlink(byte* target, byte* linkPath);
    [LibraryImport(Lib, EntryPoint = "readlink", SetLastError = true)]
    public static partial nint readlink(byte* path, byte* buf, nuint size);
    [LibraryImport(Lib, EntryPoint = "unlink", SetLastError = true)]
    public static partial int unlink(byte* path);

    /// <summary>A device number as glibc's makedev builds it.</summary>
    public static ulong MakeDevice(ulong major, ulong minor) =>
        ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) | ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);
}
