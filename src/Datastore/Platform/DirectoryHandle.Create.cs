using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Platform;

// Creating entries and changing their metadata, relative to the descriptor (nothing is followed).
public sealed unsafe partial class DirectoryHandle
{
    public void MakeDirectory(ReadOnlySpan<byte> name, uint mode)
    {
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) Check(LibC.mkdirat(Fd, pp, mode), "mkdirat", name);
    }

    /// <summary>mknodat with a device number built as glibc's makedev does (mode carries the file type).</summary>
    public void MakeNode(ReadOnlySpan<byte> name, uint mode, ulong major, ulong minor)
    {
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) Check(LibC.mknodat(Fd, pp, mode, LibC.MakeDevice(major, minor)), "mknodat", name);
    }

    public void Symlink(ReadOnlySpan<byte> target, ReadOnlySpan<byte> name)
    {
        var t = Posix.Terminate(target);
        var p = Posix.Terminate(name);
        fixed (byte* tp = t, pp = p) Check(LibC.symlinkat(tp, Fd, pp), "symlinkat", name);
    }

    /// <summary>Hardlinks <paramref name="existing"/> in <paramref name="from"/> as <paramref name="name"/> here (no symlink followed).</summary>
    public void Link(DirectoryHandle from, ReadOnlySpan<byte> existing, ReadOnlySpan<byte> name)
    {
        var a = Posix.Terminate(existing);
        var b = Posix.Terminate(name);
        fixed (byte* ap = a, bp = b) Check(LibC.linkat(from.Fd, ap, Fd, bp, 0), "linkat", name);
    }

    /// <summary>lchown of <paramref name="name"/> ("." = this directory).</summary>
    public void Chown(ReadOnlySpan<byte> name, uint uid, uint gid)
    {
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) Check(LibC.fchownat(Fd, pp, uid, gid, LibC.AtSymlinkNoFollow), "fchownat", name);
    }

    /// <summary>chmod of <paramref name="name"/> itself: a symlink swapped in meanwhile is not followed (fails with EOPNOTSUPP).</summary>
    public void Chmod(ReadOnlySpan<byte> name, uint mode)
    {
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) Check(LibC.fchmodat(Fd, pp, mode, LibC.AtSymlinkNoFollow), "fchmodat", name);
    }

    /// <summary>chmod of this directory through its descriptor.</summary>
    public void ChangeMode(uint mode)
    {
        if (LibC.fchmod(Fd, mode & FileTypeBits.PermissionMask) != 0) throw new PosixException("chmod", Path, Marshal.GetLastPInvokeError());
    }

    /// <summary>Sets atime and mtime of <paramref name="name"/> itself (not followed).</summary>
    public void SetTimes(ReadOnlySpan<byte> name, long seconds, uint nanoseconds)
    {
        long* times = stackalloc long[4] { seconds, nanoseconds, seconds, nanoseconds };
        var p = Posix.Terminate(name);
        fixed (byte* pp = p) Check(LibC.utimensat(Fd, pp, times, LibC.AtSymlinkNoFollow), "utimensat", name);
    }

    private void Check(int result, string what, ReadOnlySpan<byte> name)
    {
        if (result != 0) throw Error(what, name);
    }
}
