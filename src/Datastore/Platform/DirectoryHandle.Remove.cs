using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Platform;

// Deleting and renaming, relative to the descriptor: a symlink is removed or renamed itself, never followed.
public sealed unsafe partial class DirectoryHandle
{
    /// <summary>Deepest directory level <see cref="DeleteTree"/> descends to (a datastore needs about 20).</summary>
    public const int MaxDeleteDepth = 64;

    /// <summary>
    /// Unlinks a non-directory child (a symlink is removed itself, its target untouched). False when it
    /// does not exist.
    /// </summary>
    public bool DeleteFile(string name) => DeleteFile(Posix.PathBytes(name));

    public bool DeleteFile(ReadOnlySpan<byte> name) => UnlinkAt(name, 0, "unlink");

    /// <summary>Removes an empty child directory. False when it does not exist.</summary>
    public bool RemoveEmptyDirectory(ReadOnlySpan<byte> name) => UnlinkAt(name, LibC.AtRemoveDir, "rmdir");

    private bool UnlinkAt(ReadOnlySpan<byte> name, int flags, string what)
    {
        CheckName(name);
        var n = Posix.Terminate(name);
        fixed (byte* np = n)
        {
            if (LibC.unlinkat(Fd, np, flags) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENOENT) return false;
            throw new PosixException(what, Join(name), errno);
        }
    }

    /// <summary>
    /// Renames a child within this directory (the entry itself: a symlink is renamed, never followed).
    /// Without <paramref name="replace"/> an existing target is kept and false returned. Throws
    /// FileNotFoundException when <paramref name="from"/> does not exist.
    /// </summary>
    public bool Rename(string from, string to, bool replace)
    {
        var fromName = Posix.PathBytes(from);
        var toName = Posix.PathBytes(to);
        CheckName(fromName);
        CheckName(toName);
        var f = Posix.Terminate(fromName);
        var t = Posix.Terminate(toName);
        int fd = Fd;
        fixed (byte* fp = f, tp = t)
        {
            if (LibC.renameat2(fd, fp, fd, tp, replace ? 0 : LibC.RenameNoReplace) == 0) return true;
            int errno = Marshal.GetLastPInvokeError();
            if (!replace && errno is Errno.EINVAL or Errno.ENOSYS)
            {
                // A file system without RENAME_NOREPLACE: link (fails on an existing target) and unlink.
                if (LibC.linkat(fd, fp, fd, tp, 0) == 0)
                {
                    LibC.unlinkat(fd, fp, 0);
                    return true;
                }
                errno = Marshal.GetLastPInvokeError();
            }
            if (errno == Errno.EEXIST) return false;
            if (errno == Errno.ENOENT) throw new FileNotFoundException($"{Join(fromName)} does not exist", Join(fromName));
            throw new PosixException("rename", Join(fromName), errno);
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
        var st = TryStat(top);
        if (st is null) return false;
        if (st.Value.IsSymlink) throw NotARealDirectory(Join(top), st);
        if (!st.Value.IsDirectory) return DeleteFile(top);

        var stack = new List<(DirectoryHandle Dir, byte[] Name)>();
        try
        {
            var first = OpenChild(top);
            if (first is null) return false;
            stack.Add((first, top));
            while (stack.Count > 0)
            {
                var (dir, dirName) = stack[^1];
                DirectoryHandle? descend = null;
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
}
