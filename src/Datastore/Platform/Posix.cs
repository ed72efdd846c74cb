using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace BackupFs.Datastore.Platform;

/// <summary>File status as lstat/statx reports it (symlinks not followed).</summary>
public readonly record struct PosixStat(
    uint Mode, uint Uid, uint Gid, uint Nlink, ulong Inode, long Size,
    long MtimeSeconds, uint MtimeNanoseconds, uint DevMajor, uint DevMinor, uint RdevMajor, uint RdevMinor)
{
    public uint FileType => FileTypeBits.Of(Mode);
    public bool IsDirectory => FileType == FileTypeBits.Directory;
    public bool IsRegular => FileType == FileTypeBits.Regular;
    public bool IsSymlink => FileType == FileTypeBits.Symlink;
    /// <summary>Identity for hardlink detection: (device, inode).</summary>
    public (ulong Dev, ulong Ino) FileId => (((ulong)DevMajor << 32) | DevMinor, Inode);
    /// <summary>Last access time, whole seconds (GC's in-use mark).</summary>
    public long AtimeSeconds { get; init; }
}

/// <summary>
/// Linux libc calls that .NET does not expose with lstat semantics and raw byte paths. Paths are raw
/// bytes (file names need not be UTF-8); a string overload encodes UTF-8. Failures throw
/// <see cref="PosixException"/> carrying errno. statx is used because its struct layout is the same on
/// every architecture (unlike struct stat).
/// </summary>
public static unsafe partial class Posix
{
    /// <summary>NUL-terminated copy of a raw path (rejects embedded NUL).</summary>
    public static byte[] Terminate(ReadOnlySpan<byte> path)
    {
        if (path.IndexOf((byte)0) >= 0) throw new ArgumentException("path contains a NUL byte", nameof(path));
        var b = new byte[path.Length + 1];
        path.CopyTo(b);
        return b;
    }

    public static byte[] PathBytes(string path) => Encoding.UTF8.GetBytes(path);

    /// <summary>lstat: status of <paramref name="path"/> itself (a symlink is not followed).</summary>
    public static PosixStat LStat(ReadOnlySpan<byte> path)
    {
        var p = Terminate(path);
        fixed (byte* pp = p)
            return StatAt(LibC.AtFdCwd, pp, LibC.AtSymlinkNoFollow) ?? throw Error("statx", path);
    }

    /// <summary>fstat: status of an open file descriptor.</summary>
    public static PosixStat FStat(int fd)
    {
        byte empty = 0;
        return StatAt(fd, &empty, LibC.AtEmptyPath) ?? throw new PosixException("fstat", $"fd {fd}", Marshal.GetLastPInvokeError());
    }

    /// <summary>statx relative to a directory descriptor (flags e.g. AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH); null on failure (errno is kept).</summary>
    internal static PosixStat? StatAt(int dirfd, byte* path, int flags)
    {
        byte* buf = stackalloc byte[256];
        if (LibC.statx(dirfd, path, flags, LibC.StatxBasicStats, buf) != 0) return null;
        var s = new ReadOnlySpan<byte>(buf, 256);
        return new PosixStat(
            Mode: BinaryPrimitives.ReadUInt16LittleEndian(s[28..]), Uid: BinaryPrimitives.ReadUInt32LittleEndian(s[20..]),
            Gid: BinaryPrimitives.ReadUInt32LittleEndian(s[24..]), Nlink: BinaryPrimitives.ReadUInt32LittleEndian(s[16..]),
            Inode: BinaryPrimitives.ReadUInt64LittleEndian(s[32..]), Size: BinaryPrimitives.ReadInt64LittleEndian(s[40..]),
            MtimeSeconds: BinaryPrimitives.ReadInt64LittleEndian(s[112..]), MtimeNanoseconds: BinaryPrimitives.ReadUInt32LittleEndian(s[120..]),
            RdevMajor: BinaryPrimitives.ReadUInt32LittleEndian(s[128..]), RdevMinor: BinaryPrimitives.ReadUInt32LittleEndian(s[132..]),
            DevMajor: BinaryPrimitives.ReadUInt32LittleEndian(s[136..]), DevMinor: BinaryPrimitives.ReadUInt32LittleEndian(s[140..]))
        { AtimeSeconds = BinaryPrimitives.ReadInt64LittleEndian(s[64..]) };
    }

    /// <summary>lstat, or null when the path does not exist.</summary>
    public static PosixStat? TryLStat(ReadOnlySpan<byte> path)
    {
        try { return LStat(path); }
        catch (PosixException e) when (e.Errno == Errno.ENOENT) { return null; }
    }

    /// <summary>Names of the entries of a directory (without "." and ".."), raw bytes, unsorted.</summary>
    public static List<byte[]> ReadDirectory(ReadOnlySpan<byte> path)
    {
        var p = Terminate(path);
        nint dir;
        fixed (byte* pp = p) dir = LibC.opendir(pp);
        if (dir == 0) throw Error("opendir", path);
        return ReadNamesAndClose(dir, Encoding.UTF8.GetString(path));
    }

    /// <summary>
    /// Names of the entries of the open directory <paramref name="fd"/> (without "." and ".."), raw
    /// bytes, unsorted; <paramref name="fd"/> stays open (the listing reads a duplicate).
    /// </summary>
    public static List<byte[]> ReadDirectory(int fd, string what)
    {
        int copy = LibC.dup(fd);
        if (copy < 0) throw new PosixException("dup", what, Marshal.GetLastPInvokeError());
        nint dir = LibC.fdopendir(copy);
        if (dir == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            LibC.close(copy);
            throw new PosixException("fdopendir", what, errno);
        }
        // A dup shares the file offset: start from the top whatever an earlier listing left.
        LibC.rewinddir(dir);
        return ReadNamesAndClose(dir, what);
    }

    private static List<byte[]> ReadNamesAndClose(nint dir, string what)
    {
        var names = new List<byte[]>();
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                nint ent = LibC.readdir64(dir);
                if (ent == 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != 0) throw new PosixException("readdir", what, errno);
                    break;
                }
                // struct dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[] at offset 19.
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)ent + 19);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)) continue;
                names.Add(name.ToArray());
            }
        }
        finally { LibC.closedir(dir); }
        return names;
    }

    /// <summary>Extended attribute names in llistxattr order.</summary>
    public static List<byte[]> ListXattrs(ReadOnlySpan<byte> path)
    {
        var p = Terminate(path);
        var result = new List<byte[]>();
        fixed (byte* pp = p)
        {
            for (int attempt = 0; ; attempt++)
            {
                nint size = LibC.llistxattr(pp, null, 0);
                if (size < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.ENOTSUP) return result;
                    throw new PosixException("llistxattr", Encoding.UTF8.GetString(path), errno);
                }
                if (size == 0) return result;
                var buf = new byte[size];
                fixed (byte* bp = buf)
                {
                    nint got = LibC.llistxattr(pp, bp, (nuint)buf.Length);
                    if (got < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == Errno.ERANGE && attempt < 5) continue; // grew meanwhile
                        throw Error("llistxattr", path);
                    }
                    foreach (var range in buf.AsSpan(0, (int)got).Split((byte)0))
                        if (range.End.Value > range.Start.Value) result.Add(buf[range]);
                    return result;
                }
            }
        }
    }

    /// <summary>Value of an extended attribute, or null when it is absent.</summary>
    public static byte[]? GetXattr(ReadOnlySpan<byte> path, ReadOnlySpan<byte> name)
    {
        var p = Terminate(path);
        var n = Terminate(name);
        fixed (byte* pp = p, np = n)
        {
            for (int attempt = 0; ; attempt++)
            {
                nint size = LibC.lgetxattr(pp, np, null, 0);
                if (size < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.ENODATA || errno == Errno.ENOTSUP) return null;
                    throw new PosixException("lgetxattr", Encoding.UTF8.GetString(path), errno);
                }
                var buf = new byte[size];
                fixed (byte* bp = buf)
                {
                    nint got = LibC.lgetxattr(pp, np, bp, (nuint)buf.Length);
                    if (got >= 0) return got == buf.Length ? buf : buf[..(int)got];
                    if (Marshal.GetLastPInvokeError() != Errno.ERANGE || attempt >= 5) throw Error("lgetxattr", path);
                }
            }
        }
    }

    public static void SetXattr(ReadOnlySpan<byte> path, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var p = Terminate(path);
        var n = Terminate(name);
        fixed (byte* pp = p, np = n, vp = value)
            if (LibC.lsetxattr(pp, np, vp, (nuint)value.Length, 0) != 0) throw Error("lsetxattr", path);
    }

    public static void LChown(ReadOnlySpan<byte> path, uint uid, uint gid) => Call("lchown", path, pp => LibC.lchown(pp, uid, gid));
    /// <summary>chmod (follows symlinks: only call it on paths known not to be symlinks).</summary>
    public static void Chmod(ReadOnlySpan<byte> path, uint mode) => Call("chmod", path, pp => LibC.chmod(pp, mode));
    public static void Mkdir(ReadOnlySpan<byte> path, uint mode) => Call("mkdir", path, pp => LibC.mkdir(pp, mode));
    public static void Mkfifo(ReadOnlySpan<byte> path, uint mode) => Call("mkfifo", path, pp => LibC.mkfifo(pp, mode));
    public static void Unlink(ReadOnlySpan<byte> path) => Call("unlink", path, pp => LibC.unlink(pp));

    /// <summary>mknod with a device number built as glibc's makedev does.</summary>
    public static void Mknod(ReadOnlySpan<byte> path, uint mode, ulong major, ulong minor)
    {
        ulong dev = LibC.MakeDevice(major, minor);
        Call("mknod", path, pp => LibC.mknod(pp, mode, dev));
    }

    /// <summary>Sets atime and mtime of the path itself (symlinks are not followed).</summary>
    public static void SetTimesNoFollow(ReadOnlySpan<byte> path, long seconds, uint nanoseconds)
    {
        long* times = stackalloc long[4] { seconds, nanoseconds, seconds, nanoseconds };
        Call("utimensat", path, pp => LibC.utimensat(LibC.AtFdCwd, pp, times, LibC.AtSymlinkNoFollow));
    }

    public static void Link(ReadOnlySpan<byte> existing, ReadOnlySpan<byte> newPath)
    {
        var a = Terminate(existing);
        var b = Terminate(newPath);
        fixed (byte* ap = a, bp = b)
            if (LibC.link(ap, bp) != 0) throw Error("link", newPath);
    }

    public static void Symlink(ReadOnlySpan<byte> target, ReadOnlySpan<byte> linkPath)
    {
        var a = Terminate(target);
        var b = Terminate(linkPath);
        fixed (byte* ap = a, bp = b)
            if (LibC.symlink(ap, bp) != 0) throw Error("symlink", linkPath);
    }

    public static byte[] ReadLink(ReadOnlySpan<byte> path)
    {
        var p = Terminate(path);
        var buf = new byte[4097];
        nint n;
        fixed (byte* pp = p, bp = buf) n = LibC.readlink(pp, bp, (nuint)buf.Length);
        if (n < 0) throw Error("readlink", path);
        if (n >= buf.Length) throw new PosixException("readlink", Encoding.UTF8.GetString(path), Errno.ENAMETOOLONG);
        return buf[..(int)n];
    }

    /// <summary>Opens a file descriptor as a FileStream; with O_NOFOLLOW the last component may not be a symlink.</summary>
    public static FileStream Open(ReadOnlySpan<byte> path, int flags, uint mode, FileAccess access)
    {
        var p = Terminate(path);
        int fd;
        fixed (byte* pp = p) fd = LibC.open(pp, flags | OpenFlags.CloseOnExec, mode);
        if (fd < 0) throw Error("open", path);
        var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        return new FileStream(handle, access, bufferSize: 0);
    }

    private delegate int PathCall(byte* path);

    private static void Call(string what, ReadOnlySpan<byte> path, PathCall call)
    {
        var p = Terminate(path);
        fixed (byte* pp = p)
            if (call(pp) != 0) throw Error(what, path);
    }

    private static PosixException Error(string what, ReadOnlySpan<byte> path) =>
        new(what, Encoding.UTF8.GetString(path), Marshal.GetLastPInvokeError());
}

/// <summary>A libc call failed; <see cref="Errno"/> is the error number.</summary>
public sealed class PosixException : IOException
{
    public int Errno { get; }
    public PosixException(string call, string path, int errno)
        : base($"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)}") => Errno = errno;
}
