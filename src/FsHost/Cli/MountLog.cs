using System.Runtime.InteropServices;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// The log of a background mount. It lives in a private directory of the user — /run/backupfs for root,
/// $XDG_RUNTIME_DIR/backupfs otherwise, or &lt;tmp&gt;/backupfs-&lt;uid&gt; — created 0700 and refused if it
/// is a symlink or belongs to someone else. The file is created by the starting process with
/// O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, under a name with the time and pid; the mount process then
/// opens exactly that file (O_NOFOLLOW, no O_CREAT, must be a regular file of this user) and makes it
/// its stdout and stderr. No shell redirection, so no path is ever followed or truncated on root's behalf.
/// </summary>
public static partial class MountLog
{
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);
    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);
    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int close(int fd);
    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint geteuid();

    /// <summary>Where mount logs go (created private on first use).</summary>
    public static string Directory()
    {
        uint uid = geteuid();
        if (uid == 0 && System.IO.Directory.Exists("/run")) return PrivateDirectory.Ensure("/run", "backupfs");
        if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg && System.IO.Directory.Exists(xdg))
            return PrivateDirectory.Ensure(xdg, "backupfs");
        return PrivateDirectory.Ensure(Path.GetTempPath(), $"backupfs-{uid}");
    }

    /// <summary>Creates a new, empty log file (O_EXCL|O_NOFOLLOW, 0600) and returns its path.</summary>
    public static string Create()
    {
        var dir = Directory();
        for (int attempt = 0; ; attempt++)
        {
            var path = Path.Combine(dir, $"mount-{DateTime.UtcNow:yyyyMMdd'T'HHmmss}-{Environment.ProcessId}-{Random.Shared.Next():x8}.log");
            int fd = open(path, OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.NoFollow | OpenFlags.CloseOnExec, PrivateDirectory.FileMode);
            if (fd >= 0)
            {
                close(fd);
                return path;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != 17 /* EEXIST */ || attempt >= 5) throw new PosixException("create", path, errno);
        }
    }

    /// <summary>
    /// Opens the log the parent created, for appending: no O_CREAT, O_NOFOLLOW, and it must be a regular
    /// file of this user. Returns the descriptor.
    /// </summary>
    /// <exception cref="UnsafePathException">a symlink, not a regular file, or someone else's</exception>
    public static int OpenExisting(string path)
    {
        int fd = open(path, OpenFlags.WriteOnly | OpenFlags.Append | OpenFlags.NoFollow | OpenFlags.CloseOnExec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 40 /* ELOOP */) throw new UnsafePathException($"refusing to log to {path}: it is a symbolic link");
            throw new PosixException("open", path, errno);
        }
        var st = Posix.FStat(fd);
        if (!st.IsRegular || st.Uid != geteuid())
        {
            close(fd);
            throw new UnsafePathException($"refusing to log to {path}: not a regular file of this user");
        }
        return fd;
    }

    /// <summary>In the mount process: stdin from /dev/null, stdout and stderr appended to the log the parent created.</summary>
    public static void RedirectStdio(string path)
    {
        int fd = OpenExisting(path);
        try
        {
            int devNull = open("/dev/null", OpenFlags.ReadOnly | OpenFlags.CloseOnExec, 0);
            if (devNull >= 0)
            {
                dup2(devNull, 0);
                close(devNull);
            }
            // dup2 clears close-on-exec on the copies, which is what stdio wants.
            if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0) throw new PosixException("dup2", path, Marshal.GetLastPInvokeError());
        }
        finally { close(fd); }
        // .NET's console writers hold duplicates of the old descriptors: open new ones on the log.
        Console.SetOut(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
        Console.SetError(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true });
    }
}
