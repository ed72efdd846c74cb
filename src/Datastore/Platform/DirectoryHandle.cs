using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.Datastore.Platform;

/// <summary>
/// An open directory descriptor and the *at calls relative to it. Everything below a directory is
/// reached one name at a time, with openat(O_NOFOLLOW|O_DIRECTORY) from the parent's descriptor, and
/// every create, delete, rename and listing goes through the descriptor, never through a path string
/// the kernel would resolve again. So a symlink planted below the starting point (or swapped in while
/// we work) redirects nothing, and path length never matters (trees deeper than PATH_MAX work).
/// Two uses share it: store paths (<see cref="OpenBelow"/>, <see cref="OpenChild(string)"/>,
/// <see cref="DeleteTree"/>: a symlink or non-directory is refused with <see cref="UnsafePathException"/>)
/// and tree walks for backup and restore (<see cref="Open"/>, <see cref="OpenDirectory"/>, usually
/// through <see cref="DirectoryChain"/>: any failure is a <see cref="PosixException"/> with errno).
/// xattr calls, which have no *at form on older kernels, use the short path
/// /proc/self/fd/&lt;fd&gt;/&lt;name&gt; (<see cref="ProcPath"/>; the last component is not followed).
/// </summary>
public sealed unsafe partial class DirectoryHandle : IDisposable
{
    private readonly SafeFileHandle _fd;
    private readonly Location _location;

    private DirectoryHandle(int fd, Location location)
    {
        _fd = new SafeFileHandle(fd, ownsHandle: true);
        _location = location;
    }

    private int Fd => _fd.IsClosed ? throw new ObjectDisposedException(Path) : (int)_fd.DangerousGetHandle();

    /// <summary>The directory's path, for messages only (never used to reach the directory again).</summary>
    public string Path => _location.Describe();

    // ---- Opening ----

    /// <summary>Opens a directory the administrator named (a store root): symlinks in this path are followed.</summary>
    public static DirectoryHandle OpenTrusted(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        var p = Posix.Terminate(Posix.PathBytes(full));
        int fd;
        fixed (byte* pp = p) fd = LibC.openat(LibC.AtFdCwd, pp, OpenFlags.ReadOnly | OpenFlags.Directory | OpenFlags.CloseOnExec, 0);
        if (fd < 0) throw new PosixException("open", full, Marshal.GetLastPInvokeError());
        return new DirectoryHandle(fd, Location.Root(full));
    }

    /// <summary>Opens a directory by path; the last component may not be a symlink.</summary>
    public static DirectoryHandle Open(ReadOnlySpan<byte> path)
    {
        var p = Posix.Terminate(path);
        int fd;
        fixed (byte* pp = p) fd = LibC.openat(LibC.AtFdCwd, pp, OpenFlags.ReadOnly | OpenFlags.Directory | OpenFlags.NoFollow | OpenFlags.CloseOnExec, 0);
        if (fd < 0) throw new PosixException("open", Encoding.UTF8.GetString(path), Marshal.GetLastPInvokeError());
        return new DirectoryHandle(fd, Location.Root(Encoding.UTF8.GetString(path)));
    }

    /// <summary>
    /// Opens root/relative ('/'-separated), refusing a symlink or non-directory at any component below
    /// the root. Null when a component does not exist.
    /// </summary>
    /// <exception cref="UnsafePathException">a component is a symlink or not a directory</exception>
    public static DirectoryHandle? OpenBelow(string root, string relative)
    {
        var dir = OpenTrusted(root);
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            DirectoryHandle? next;
            try { next = dir.OpenChild(part); }
            finally { dir.Dispose(); }
            if (next is null) return null;
            dir = next;
        }
        return dir;
    }

    /// <summary>
    /// Opens root/relative, creating missing components with <paramref name="mode"/>; refuses a symlink
    /// or non-directory at any component below the root (so nothing is created outside the store).
    /// </summary>
    public static DirectoryHandle CreateBelow(string root, string relative, uint mode)
    {
        var dir = OpenTrusted(root);
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            DirectoryHandle next;
            try { next = dir.CreateChild(part, mode); }
            finally { dir.Dispose(); }
            dir = next;
        }
        return dir;
    }

    /// <summary>Opens a child directory; null when it does not exist.</summary>
    /// <exception cref="UnsafePathException">the child is a symlink or not a directory</exception>
    public DirectoryHandle? OpenChild(string name) => OpenChild(Posix.PathBytes(name));

    public DirectoryHandle? OpenChild(byte[] name)
    {
        CheckName(name);
        int fd = OpenDirectoryAt(name);
        if (fd >= 0) return new DirectoryHandle(fd, _location.Child(name));
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Errno.ENOENT) return null;
        if (errno is Errno.ELOOP or Errno.ENOTDIR) throw NotARealDirectory(Join(name), TryStat(name));
        throw new PosixException("open", Join(name), errno);
    }

    /// <summary>Opens a child directory, creating it with <paramref name="mode"/> when missing (mode set at creation, minus umask).</summary>
    public DirectoryHandle CreateChild(string name, uint mode)
    {
        var bytes = Posix.PathBytes(name);
        CheckName(bytes);
        var n = Posix.Terminate(bytes);
        fixed (byte* np = n)
            if (LibC.mkdirat(Fd, np, mode) != 0 && Marshal.GetLastPInvokeError() != Errno.EEXIST)
                throw new PosixException("mkdir", Join(bytes), Marshal.GetLastPInvokeError());
        return OpenChild(bytes) ?? throw new PosixException("open", Join(bytes), Errno.ENOENT);
    }

    /// <summary>
    /// Opens the sub-directory <paramref name="name"/> for a walk (never through a symlink; ".." climbs
    /// back up). Any failure, a symlink included, is a <see cref="PosixException"/> carrying errno.
    /// </summary>
    public DirectoryHandle OpenDirectory(ReadOnlySpan<byte> name)
    {
        int fd = OpenDirectoryAt(name);
        if (fd < 0) throw Error("openat", name);
        return new DirectoryHandle(fd, name.SequenceEqual(".."u8) ? _location.Up() : _location.Child(name));
    }

    /// <summary>Opens <paramref name="name"/> as a file (O_NOFOLLOW and O_CLOEXEC are always added).</summary>
    public FileStream OpenFile(ReadOnlySpan<byte> name, int flags, uint mode, FileAccess access)
    {
        var p = Posix.Terminate(name);
        int fd;
        fixed (byte* pp = p) fd = LibC.openat(Fd, pp, flags | OpenFlags.NoFollow | OpenFlags.CloseOnExec, mode);
        if (fd < 0) throw Error("openat", name);
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), access, bufferSize: 0);
    }

    private int OpenDirectoryAt(ReadOnlySpan<byte> name)
    {
        var p = Posix.Terminate(name);
        fixed (byte* pp = p)
            return LibC.openat(Fd, pp, OpenFlags.ReadOnly | OpenFlags.Directory | OpenFlags.NoFollow | OpenFlags.CloseOnExec, 0);
    }

    // ---- Status and listing ----

    /// <summary>lstat of <paramref name="name"/> in this directory ("" = the directory itself).</summary>
    public PosixStat Stat(ReadOnlySpan<byte> name) =>
        StatAt(name, out int errno) ?? throw new PosixException("statx", Join(name), errno);

    /// <summary>lstat, or null when <paramref name="name"/> does not exist.</summary>
    public PosixStat? TryStat(string name) => TryStat(Posix.PathBytes(name));

    public PosixStat? TryStat(ReadOnlySpan<byte> name) =>
        StatAt(name, out int errno) is { } st ? st : errno == Errno.ENOENT ? null : throw new PosixException("statx", Join(name), errno);

    /// <summary>Status of this directory itself.</summary>
    public PosixStat StatSelf() => Stat(""u8);

    private PosixStat? StatAt(ReadOnlySpan<byte> name, out int errno)
    {
        var p = Posix.Terminate(name);
        errno = 0;
        fixed (byte* pp = p)
        {
            var st = Posix.StatAt(Fd, pp, LibC.AtSymlinkNoFollow | (name.Length == 0 ? LibC.AtEmptyPath : 0));
            if (st is null) errno = Marshal.GetLastPInvokeError();
            return st;
        }
    }

    /// <summary>Names in this directory (without "." and ".."), raw bytes, unsorted.</summary>
    public List<byte[]> ReadNames() => Posix.ReadDirectory(Fd, Path);

    /// <summary>The entries (without "." and ".."), each with its lstat; entries that vanish meanwhile are left out.</summary>
    public List<DirectoryEntry> ReadEntries()
    {
        var names = ReadNames();
        var result = new List<DirectoryEntry>(names.Count);
        foreach (var name in names)
            if (TryStat(name) is { } st) result.Add(new DirectoryEntry(name, st));
        return result;
    }

    public byte[] ReadLink(ReadOnlySpan<byte> name)
    {
        var p = Posix.Terminate(name);
        var buf = new byte[4097];
        nint n;
        fixed (byte* pp = p, bp = buf) n = LibC.readlinkat(Fd, pp, bp, (nuint)buf.Length);
        if (n < 0) throw Error("readlinkat", name);
        if (n >= buf.Length) throw new PosixException("readlinkat", Join(name), Errno.ENAMETOOLONG);
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

    // ---- Names and messages ----

    // Only single components: a '/' would let the kernel resolve (and follow) more than one level.
    private static void CheckName(ReadOnlySpan<byte> name)
    {
        if (name.Length == 0 || name.IndexOf((byte)'/') >= 0 || name.IndexOf((byte)0) >= 0
            || name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
            throw new ArgumentException($"'{Encoding.UTF8.GetString(name)}' is not a single file name", nameof(name));
    }

    private string Join(ReadOnlySpan<byte> name) =>
        name.Length == 0 ? Path : Path.TrimEnd('/') + "/" + Encoding.UTF8.GetString(name);

    private PosixException Error(string what, ReadOnlySpan<byte> name)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new PosixException(what, Join(name), errno);
    }

    private static UnsafePathException NotARealDirectory(string path, PosixStat? st) =>
        new(st is { IsSymlink: true }
            ? $"refusing to use {path}: it is a symbolic link, not a directory of the datastore"
            : $"refusing to use {path}: it is not a directory");

    public void Dispose() => _fd.Dispose();
}
