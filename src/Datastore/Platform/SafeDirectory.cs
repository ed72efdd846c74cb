using System.Runtime.InteropServices;
using System.Text;

namespace BackupFs.Datastore.Platform;

/// <summary>One entry of a directory listing: raw name bytes (no NUL) and its lstat.</summary>
public readonly record struct SafeEntry(byte[] NameBytes, PosixStat Stat)
{
    public string Name => Encoding.UTF8.GetString(NameBytes);
}

/// <summary>
/// An open directory reached from a trusted root without following any symlink: each component below
/// the root is opened with openat(O_NOFOLLOW|O_DIRECTORY) from its parent's descriptor, so a symlink
/// planted anywhere below the root — or swapped in while we work — cannot redirect anything done here.
/// Every delete, rename and listing goes through the descriptor (the *at calls), never through a path
/// string that the kernel would resolve again. This is how BackupFs, running as root on stores it did
/// not write, keeps deletions inside the store.
/// </summary>
public sealed unsafe partial class SafeDirectory : IDisposable
{
    /// <summary>Deepest directory level <see cref="DeleteTree"/> descends to (a datastore needs about 20).</summary>
    public const int MaxDeleteDepth = 64;

    private const int AtRemoveDir = 0x200, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000;
    private const int ELOOP = 40, ENOTDIR = 20, ENOENT = 2, EEXIST = 17, EINVAL = 22, ENOSYS = 38;
    private const uint RenameNoReplace = 1;
    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;
    public static readonly int ODirectory = Arm ? 0x4000 : 0x10000;
    public static readonly int ONoFollow = Arm ? 0x8000 : 0x20000;
    public const int OCloexec = 0x80000, ONonBlock = 0x800;

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static partial int openat(int dirfd, byte* path, int flags, uint mode);
    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static partial int unlinkat(int dirfd, byte* path, int flags);
    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    private static partial int renameat2(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, uint flags);
    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true)]
    private static partial int linkat(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, int flags);
    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true)]
    private static partial int mkdirat(int dirfd, byte* path, uint mode);
    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int close(int fd);

    private int _fd;

    /// <summary>The directory's path, for messages only (never used to reach the directory again).</summary>
    public string Path { get; }

    private SafeDirectory(int fd, string path) { _fd = fd; Path = path; }

    internal int Descriptor => _fd >= 0 ? _fd : throw new ObjectDisposedException(Path);

    /// <summary>Opens a directory the administrator named (the store root): symlinks in this path are followed.</summary>
    public static SafeDirectory OpenTrusted(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        var p = Posix.Terminate(Posix.PathBytes(full));
        int fd;
        fixed (byte* pp = p) fd = openat(-100, pp, Posix.O_RDONLY | ODirectory | OCloexec, 0);
        if (fd < 0) throw new PosixException("open", full, Marshal.GetLastPInvokeError());
        return new SafeDirectory(fd, full);
    }

    /// <summary>
    /// Opens root/relative ('/'-separated), refusing a symlink or non-directory at any component below
    /// the root. Null when a component does not exist.
    /// </summary>
    /// <exception cref="UnsafePathException">a component is a symlink or not a directory</exception>
    public static SafeDirectory? OpenBelow(string root, string relative)
    {
        var dir = OpenTrusted(root);
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            SafeDirectory? next;
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
    public static SafeDirectory CreateBelow(string root, string relative, uint mode)
    {
        var dir = OpenTrusted(root);
        foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            SafeDirectory next;
            try { next = dir.CreateChild(part, mode); }
            finally { dir.Dispose(); }
            dir = next;
        }
        return dir;
    }

    /// <summary>Opens a child directory; null when it does not exist.</summary>
    /// <exception cref="UnsafePathException">the child is a symlink or not a directory</exception>
    public SafeDirectory? OpenChild(string name) => OpenChild(Posix.PathBytes(name));

    public SafeDirectory? OpenChild(byte[] name)
    {
        CheckName(name);
        var n = Posix.Terminate(name);
        int fd;
        fixed (byte* np = n) fd = openat(Descriptor, np, Posix.O_RDONLY | ODirectory | ONoFollow | OCloexec, 0);
        var childPath = Join(name);
        if (fd >= 0) return new SafeDirectory(fd, childPath);
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ENOENT) return null;
        if (errno is ELOOP or ENOTDIR) throw NotARealDirectory(childPath, Stat(name));
        throw new PosixException("open", childPath, errno);
    }

    /// <summary>Opens a child directory, creating it with <paramref name="mode"/> when missing (mode set at creation, minus umask).</summary>
    public SafeDirectory CreateChild(string name, uint mode)
    {
        var n = Posix.Terminate(Posix.PathBytes(name));
        CheckName(n.AsSpan(0, n.Length - 1));
        fixed (byte* np = n)
            if (mkdirat(Descriptor, np, mode) != 0 && Marshal.GetLastPInvokeError() != EEXIST)
                throw new PosixException("mkdir", Join(n[..^1]), Marshal.GetLastPInvokeError());
        return OpenChild(n[..^1]) ?? throw new PosixException("open", Join(n[..^1]), ENOENT);
    }

    /// <summary>lstat of a child; null when it does not exist.</summary>
    public PosixStat? Stat(string name) => Stat(Posix.PathBytes(name));

    public PosixStat? Stat(ReadOnlySpan<byte> name)
    {
        var n = Posix.Terminate(name);
        fixed (byte* np = n)
        {
            var st = Posix.StatAt(Descriptor, np, AtSymlinkNoFollow);
            if (st is not null) return st;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENOENT) return null;
            throw new PosixException("statx", Join(name), errno);
        }
    }

    /// <summary>Status of this directory itself.</summary>
    public PosixStat StatSelf()
    {
        byte empty = 0;
        return Posix.StatAt(Descriptor, &empty, AtEmptyPath) ?? throw new PosixException("statx", Path, Marshal.GetLastPInvokeError());
    }

    /// <summary>The entries (without "." and ".."), each with its lstat; entries that vanish meanwhile are left out.</summary>
    public List<SafeEntry> ReadEntries()
    {
        var names = Posix.ReadDirectory(Descriptor, Path);
        var result = new List<SafeEntry>(names.Count);
        foreach (var name in names)
            if (Stat(name) is { } st) result.Add(new SafeEntry(name, st));
        return result;
    }

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);
    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint geteuid();

    /// <summary>chmod of this directory through its descriptor.</summary>
    public void ChangeMode(uint mode)
    {
        if (fchmod(Descriptor, mode & 0xFFF) != 0) throw new PosixException("chmod", Path, Marshal.GetLastPInvokeError());
    }


    /// <summary>
    /// Unlinks a non-directory child (a symlink is removed itself, its target untouched). False when it
    /// does not exist.
    /// </summary>
    public bool DeleteFile(string name) => DeleteFile(Posix.PathBytes(name));

    public bool DeleteFile(byte[] name)
    {
        CheckName(name);
        var n = Posix.Terminate(name);
        fixed (byte* np = n)
        {
            if (unlinkat(Descriptor, np, 0) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENOENT) return false;
            throw new PosixException("unlink", Join(name), errno);
        }
    }

    /// <summary>Removes an empty child directory. False when it does not exist.</summary>
    public bool RemoveEmptyDirectory(byte[] name)
    {
        CheckName(name);
        var n = Posix.Terminate(name);
        fixed (byte* np = n)
        {
            if (unlinkat(Descriptor, np, AtRemoveDir) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENOENT) return false;
            throw new PosixException("rmdir", Join(name), errno);
        }
    }

    /// <summary>
    /// Renames a child within this directory (the entry itself: a symlink is renamed, never followed).
    /// Without <paramref name="replace"/> an existing target is kept and false returned. Throws
    /// FileNotFoundException when <paramref name="from"/> does not exist.
    /// </summary>
    public bool Rename(string from, string to, bool replace)
    {
        var f = Posix.Terminate(Posix.PathBytes(from));
        var t = Posix.Terminate(Posix.PathBytes(to));
        CheckName(f.AsSpan(0, f.Length - 1));
        CheckName(t.AsSpan(0, t.Length - 1));
        fixed (byte* fp = f, tp = t)
        {
            if (renameat2(Descriptor, fp, Descriptor, tp, replace ? 0 : RenameNoReplace) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (!replace && errno is EINVAL or ENOSYS)
            {
                // A file system without RENAME_NOREPLACE: link (fails on an existing target) and unlink.
                if (linkat(Descriptor, fp, Descriptor, tp, 0) == 0)
                {
                    unlinkat(Descriptor, fp, 0);
                    return true;
                }
                errno = Marshal.GetLastPInvokeError();
            }
            if (errno == EEXIST) return false;
            if (errno == ENOENT) throw new FileNotFoundException($"{Join(f[..^1])} does not exist", Join(f[..^1]));
            throw new PosixException("rename", Join(f[..^1]), errno);
        }
    }

    /// <summary>
    /// Deletes a child and, if it is a directory, everything below it, without ever following a
    /// symlink: symlinks inside are unlinked themselves, directories are entered only through
    /// openat(O_NOFOLLOW). Iterative (an explicit stack, at most <see cref="MaxDeleteDepth"/> levels).
    /// False when the child does not exist.
    /// </summary>
    /// <exception cref="UnsafePathException">the child itself is a symlink (refused: it is not part of the store), or the tree is deeper than the limit</exception>
    public bool DeleteTree(string name)
    {
        var top = Posix.PathBytes(name);
        CheckName(top);
        var st = Stat(top);
        if (st is null) return false;
        if (st.Value.IsSymlink) throw NotARealDirectory(Join(top), st);
        if (!st.Value.IsDirectory) return DeleteFile(top);

        var stack = new List<(SafeDirectory Dir, byte[] Name)>();
        try
        {
            var first = OpenChild(top);
            if (first is null) return false;
            stack.Add((first, top));
            while (stack.Count > 0)
            {
                var (dir, dirName) = stack[^1];
                SafeDirectory? descend = null;
                byte[]? descendName = null;
                foreach (var entry in dir.ReadEntries())
                {
                    if (entry.Stat.IsDirectory)
                    {
                        if (stack.Count >= MaxDeleteDepth)
                            throw new UnsafePathException($"refusing to delete {Join(top)}: nested deeper than {MaxDeleteDepth} levels");
                        descend = dir.OpenChild(entry.NameBytes);
                        if (descend is null) continue; // gone meanwhile
                        descendName = entry.NameBytes;
                        break;
                    }
                    dir.DeleteFile(entry.NameBytes);
                }
                if (descend is not null)
                {
                    stack.Add((descend, descendName!));
                    continue;
                }
                stack.RemoveAt(stack.Count - 1);
                dir.Dispose();
                var parent = stack.Count > 0 ? stack[^1].Dir : this;
                parent.RemoveEmptyDirectory(dirName);
            }
            return true;
        }
        finally
        {
            foreach (var (dir, _) in stack) dir.Dispose();
        }
    }

    private string Join(ReadOnlySpan<byte> name) => Path.TrimEnd('/') + "/" + Encoding.UTF8.GetString(name);

    // Only single components: a '/' would let the kernel resolve (and follow) more than one level.
    private static void CheckName(ReadOnlySpan<byte> name)
    {
        if (name.Length == 0 || name.IndexOf((byte)'/') >= 0 || name.IndexOf((byte)0) >= 0
            || name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
            throw new ArgumentException($"'{Encoding.UTF8.GetString(name)}' is not a single file name", nameof(name));
    }

    private static UnsafePathException NotARealDirectory(string path, PosixStat? st) =>
        new(st is { IsSymlink: true }
            ? $"refusing to use {path}: it is a symbolic link, not a directory of the datastore"
            : $"refusing to use {path}: it is not a directory");

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) close(fd);
    }
}
