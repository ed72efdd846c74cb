using System.Text;
using BackupFs.FsHost.Fuse.Interop;

namespace BackupFs.FsHost.Fuse;

/// <summary>One line of /proc/self/mountinfo.</summary>
public sealed record MountEntry(string MountPoint, string Device, string FsType, string Source);

/// <summary>Reads the mount table and recognises stale FUSE mounts ("Transport endpoint is not
/// connected"), which a dead server without auto_unmount leaves behind.</summary>
public static unsafe partial class MountTable
{
    /// <summary>All mounts visible to this process, in mount order.</summary>
    public static IReadOnlyList<MountEntry> Read()
    {
        var result = new List<MountEntry>();
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            // id parent major:minor root mountpoint options [optional…] - fstype source superoptions
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || dash < 5 || dash + 2 >= fields.Length) continue;
            result.Add(new MountEntry(Unescape(fields[4]), fields[2], fields[dash + 1], Unescape(fields[dash + 2])));
        }
        return result;
    }

    /// <summary>The topmost mount at <paramref name="mountPoint"/>, or null.</summary>
    public static MountEntry? Find(string mountPoint)
    {
        var path = Normalize(mountPoint);
        return Read().LastOrDefault(m => m.MountPoint == path);
    }

    /// <summary>True when a FUSE filesystem is mounted at <paramref name="mountPoint"/>.</summary>
    public static bool IsFuseMounted(string mountPoint) =>
        Find(mountPoint) is { } m && (m.FsType == "fuse" || m.FsType.StartsWith("fuse.", StringComparison.Ordinal));

    /// <summary>True when a FUSE mount at <paramref name="mountPoint"/> has lost its server
    /// (statfs answers ENOTCONN, or ECONNABORTED while the kernel tears the connection down). Must
    /// not be called from inside a handler of that mount; a live but hung server makes this wait
    /// like any other access.</summary>
    public static bool IsStale(string mountPoint)
    {
        if (!IsFuseMounted(mountPoint)) return false;
        var buffer = stackalloc byte[512];
        // ECONNABORTED: over io_uring the kernel ends the rings asynchronously after the server died.
        return StatFs(Normalize(mountPoint), buffer) != 0 && LibC.LastErrno is LibC.ENOTCONN or LibC.ECONNABORTED;
    }

    /// <summary>Lazily unmounts a stale FUSE mount; returns true if there was one.</summary>
    public static bool ClearStale(string mountPoint)
    {
        if (!IsStale(mountPoint)) return false;
        FuseMounter.Unmount(mountPoint);
        return true;
    }

    /// <summary>Lazily unmounts whatever is mounted at <paramref name="mountPoint"/> (umount2
    /// MNT_DETACH as root, else fusermount3 -u -z); false when nothing was mounted there.</summary>
    public static bool UnmountLazily(string mountPoint) => FuseMounter.Unmount(mountPoint);

    internal static string Normalize(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)) is var p && p.Length > 0 ? p : "/";

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var bytes = new List<byte>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s[at] is >= '0' and <= '7' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "statfs", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatFs(string path, byte* buffer);
}
