using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.Datastore.Platform;

/// <summary>
/// An open directory file descriptor and the *at calls relative to it, so a tree is walked (and
/// restored) one name at a time, as PBS walks it: path length never matters (trees deeper than
/// PATH_MAX work) and a name is never resolved through a symlink. xattr calls, which have no *at
/// form on older kernels, go through the short path /proc/self/fd/&lt;fd&gt;/&lt;name&gt; (the last
/// component is not followed).
/// </summary>
public sealed unsafe partial class DirectoryHandle : IDisposable
{
    private const int AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000, AtFdCwd = -100;
    private const int ODirectory = 0x10000, OPath = 0x200000;
    private const uint StatxBasicStats = 0x7ff;
    private readonly SafeFileHandle _fd;

    private DirectoryHandle(int fd) => _fd = new SafeFileHandle(fd, ownsHandle: true);

    private int Fd => (int)_fd.DangerousGetHandle();

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static partial int openat(int dirfd, byte* path, int flags, uint mode);
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int statx(int dirfd, byte* path, int flags, uint mask, byte* buf);
    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int close(int fd);
    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    private static partial nint readlinkat(int dirfd, byte* path, byte* buf, nuint size);
    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true)]
    private static partial int mkdirat(int dirfd, byte* path, uint mode);
    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true)]
    private static partial int mknodat(int dirfd, byte* path, uint mode, ulong dev);
    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true)]
    private static partial int symlinkat(byte* target, int dirfd, byte* path);
    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true)]
    private static partial int linkat(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, int flags);
    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static partial int unlinkat(int dirfd, byte* path, int flags);
    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true)]
    private static partial int fchownat(int dirfd, byte* path, uint uid, uint gid, int flags);
    [LibraryImport("libc", EntryPoint = "fchmodat", SetLastError = true)]
    private static partial int fchmodat(int dirfd, byte* path, uint mode, int flags);
    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true)]
    private static partial int utimensat(int dirfd, byte* path, long* times, int flags);

    /// <summary>Opens a directory by path; the last component may not be a symlink.</summary>
    public static DirectoryHandle Open(ReadOnlySpan<byte> path)
    {
        var p = Posix.Terminate(path);
        int fd;
        fixed (byte* pp = p) fd = openat(AtFdCwd, pp, Posix.O_RDONLY | ODirectory | Posix.O_NOFOLLOW | Posix.O_CLOEXEC, 0);
        if (fd < 0) throw Error("open", path);
        return new DirectoryHandle(fd);
    }

    /// <summary>Opens the sub-directory <paramref name="name"/> (never through a symlink).</summary>
    public DirectoryHandle OpenDirectory(ReadOnlySpan<byte> name)
    {
        int fd = At(name, static (dir, p, _) => openat(dir, p, Posix.O_RDONLY | ODirectory | Posix.O_NOFOLLOW | Posix.O_CLOEXEC, 0), 0);
        if (fd < 0) throw Error("openat", name);
        return new DirectoryHandle(fd);
    }

    /// <summary>Opens <paramref name="name"/> as a file (O_NOFOLLOW and O_CLOEXEC are always added).</summary>
    public FileStream OpenFile(ReadOnlySpan<byte> name, int flags, uint mode, FileAccess access)
    {
        var p = Posix.Terminate(name);
        int fd;
        fixed (byte* pp = p) fd = openat(Fd, pp, flags | Posix.O_NOFOLLOW | Posix.O_CLOEXEC, mode);
        if (fd < 0) throw Error("openat", name);
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), access, bufferSize: 0);
    }

    /// <summary>lstat of <paramref name="name"/> in this directory ("" = the directory itself).</summary>
    public PosixStat Stat(ReadOnlySpan<byte> name) =>
        TryStat(name, out int errno) ?? throw new PosixException("statx", Encoding.UTF8.GetString(name), errno);

    /// <summary>lstat, or null when <paramref name="name"/> does not exist.</summary>
    public PosixStat? TryStat(ReadOnlySpan<byte> name) =>
        TryStat(name, out int errno) is { } st ? st : errno == Posix.ENOENT ? null : throw new PosixException("statx", Encoding.UTF8.GetString(name), errno);

    private PosixStat? TryStat(ReadOnlySpan<byte> name, out int errno)
    {
        var p = Posix.Terminate(name);
        byte* buf = stackalloc byte[256];
        errno = 0;
        fixed (byte* pp = p)
            if (statx(Fd, pp, AtSymlinkNoFollow | (name.Length == 0 ? AtEmptyPath : 0), StatxBasicStats, buf) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return null;
            }
        var s = new ReadOnlySpan<byte>(buf, 256);
        return new PosixStat(
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(s[28..]), Uid: BinaryPrimitives.ReadUInt32LittleEndian(s[20..]),
            Gid: BinaryPrimitives.ReadUInt32LittleEndian(s[24..]), Nlink: BinaryPrimitives.ReadUInt32LittleEndian(s[16..]),
            Inode: BinaryPrimitives.ReadUInt64LittleEndian(s[32..]), Size: BinaryPrimitives.ReadInt64LittleEndian(s[40..]),
            MtimeSeconds: BinaryPrimitives.ReadInt64LittleEndian(s[112..]), MtimeNanoseconds: BinaryPrimitives.ReadUInt32LittleEndian(s[120..]),
            RdevMajor: BinaryPrimitives.ReadUInt32LittleEndian(s[128..]), RdevMinor: BinaryPrimitives.ReadUInt32LittleEndian(s[132..]),
            DevMajor: BinaryPrimitives.ReadUInt32LittleEndian(s[136..]), DevMinor: BinaryPrimitives.ReadUInt32LittleEndian(s[140..]));
    }

    /// <summary>Names in this directory (without "." and ".."), raw bytes, unsorted.</summary>
    public List<byte[]> ReadNames() => Posix.ReadDirectory(Fd, "directory");

    public byte[] ReadLink(ReadOnlySpan<byte> name)
    {
        var p = Posix.Terminate(name);
        var buf = new byte[4097];
        nint n;
        fixed (byte* pp = p, bp = buf) n = readlinkat(Fd, pp, bp, (nuint)buf.Length);
        if (n < 0) throw Error("readlinkat", name);
        if (n >= buf.Length) throw new PosixException("readlinkat", Encoding.UTF8.GetString(name), 36 /* ENAMETOOLONG */);
        return buf[..(int)n];
    }

    /// <summary>A short path naming <paramref name="name"/> in this directory for path-only calls (xattrs): /proc/self/fd/N/name.</summary>
    public byte[] ProcPath(ReadOnlySpan<byte> name)
    {
        var prefix = Encoding.ASCII.GetBytes($"/proc/self/fd/{Fd}");
        if (name.Length == 0) name = "."u8; // the directory itself, without following the magic link as the last component
        var b = new byte[prefix.Length + 1 + name.Length];
        prefix.CopyTo(b, 0);
        b[prefix.Length] = (byte)'/';
        name.CopyTo(b.AsSpan(prefix.Length + 1));
        return b;
    }

    public void MakeDirectory(ReadOnlySpan<byte> name, uint mode) => Check(At(name, static (d, p, m) => mkdirat(d, p, (uint)m), (long)mode), "mkdirat", name);

    /// <summary>mknodat with a device number built as glibc's makedev does (mode carries the file type).</summary>
    public void MakeNode(ReadOnlySpan<byte> name, uint mode, ulong major, ulong minor)
    {
        ulong dev = ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) | ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) Check(mknodat(Fd, pp, mode, dev), "mknodat", name);
    }

    public void Symlink(ReadOnlySpan<byte> target, ReadOnlySpan<byte> name)
    {
        var t = Posix.Terminate(target);
        var p = Posix.Terminate(name);
        fixed (byte* tp = t, pp = p) Check(symlinkat(tp, Fd, pp), "symlinkat", name);
    }

    /// <summary>Hardlinks <paramref name="existing"/> in <paramref name="from"/> as <paramref name="name"/> here (no symlink followed).</summary>
    public void Link(DirectoryHandle from, ReadOnlySpan<byte> existing, ReadOnlySpan<byte> name)
    {
        var a = Posix.Terminate(existing);
        var b = Posix.Terminate(name);
        fixed (byte* ap = a, bp = b) Check(linkat(from.Fd, ap, Fd, bp, 0), "linkat", name);
    }

    /// <summary>Removes a non-directory entry.</summary>
    public void Unlink(ReadOnlySpan<byte> name) => Check(At(name, static (d, p, _) => unlinkat(d, p, 0), 0), "unlinkat", name);

    /// <summary>lchown of <paramref name="name"/> ("." = this directory).</summary>
    public void Chown(ReadOnlySpan<byte> name, uint uid, uint gid) =>
        Check(At(name, static (d, p, ids) => fchownat(d, p, (uint)(ids >> 32), (uint)ids, AtSymlinkNoFollow), ((long)uid << 32) | gid), "fchownat", name);

    /// <summary>chmod of <paramref name="name"/> itself: a symlink swapped in meanwhile is not followed (fails with EOPNOTSUPP).</summary>
    public void Chmod(ReadOnlySpan<byte> name, uint mode) => Check(At(name, static (d, p, m) => fchmodat(d, p, (uint)m, AtSymlinkNoFollow), mode), "fchmodat", name);

    /// <summary>Sets atime and mtime of <paramref name="name"/> itself (not followed).</summary>
    public void SetTimes(ReadOnlySpan<byte> name, long seconds, uint nanoseconds)
    {
        long* times = stackalloc long[4] { seconds, nanoseconds, seconds, nanoseconds };
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) Check(utimensat(Fd, pp, times, AtSymlinkNoFollow), "utimensat", name);
    }

    private delegate int AtCall(int dirfd, byte* path, long arg);

    private int At(ReadOnlySpan<byte> name, AtCall call, long arg)
    {
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) return call(Fd, pp, arg);
    }

    private static void Check(int result, string what, ReadOnlySpan<byte> name)
    {
        if (result != 0) throw Error(what, name);
    }

    private static PosixException Error(string what, ReadOnlySpan<byte> name) =>
        new(what, Encoding.UTF8.GetString(name), Marshal.GetLastPInvokeError());

    public void Dispose() => _fd.Dispose();
}
