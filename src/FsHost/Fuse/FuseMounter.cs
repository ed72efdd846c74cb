using System.Diagnostics;
using System.Text;
using BackupFs.FsHost.Fuse.Interop;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// Mounts and unmounts. As root: open /dev/fuse (O_CLOEXEC) and mount(2) with fd=N. Otherwise,
/// or for auto_unmount: run fusermount3 with _FUSE_COMMFD and receive the /dev/fuse descriptor
/// over a socket pair (SCM_RIGHTS). With auto_unmount fusermount3 stays alive, watching the
/// socket, and unmounts when this process dies.
/// </summary>
internal static unsafe class FuseMounter
{
    private const int MSG_CMSG_CLOEXEC = 0x40000000;
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(15);

    public static bool IsRoot => LibC.GetEuid() == 0;

    /// <summary>A mounted connection: the device descriptor and, for fusermount3 with
    /// auto_unmount, the helper process and our end of its socket (closing it unmounts).</summary>
    public sealed class MountedConnection
    {
        public required int DeviceFd { get; init; }
        public required string MountPoint { get; init; }
        public Process? Fusermount { get; init; }
        public int CommSocket { get; init; } = -1;
    }

    public static MountedConnection Mount(FuseMountOptions options)
    {
        options.Validate();
        var mountPoint = MountTable.Normalize(options.MountPoint);
        if (!Directory.Exists(mountPoint) && !(options.ClearStaleMount && MountTable.IsStale(mountPoint)))
            throw new DirectoryNotFoundException($"mount point does not exist: {mountPoint}");
        if (options.ClearStaleMount) MountTable.ClearStale(mountPoint);

        var viaFusermount = options.ForceFusermount || options.AutoUnmount || !IsRoot;
        return viaFusermount ? MountWithFusermount(options, mountPoint) : MountDirectly(options, mountPoint);
    }

    private static MountedConnection MountDirectly(FuseMountOptions options, string mountPoint)
    {
        var fd = LibC.Open("/dev/fuse", LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0) throw new IOException($"cannot open /dev/fuse: {LibC.Describe(LibC.LastErrno)}");
        var data = new StringBuilder($"fd={fd},rootmode=40000,user_id={LibC.GetEuid()},group_id={LibC.GetEgid()}");
        if (options.DefaultPermissions) data.Append(",default_permissions");
        if (options.AllowOther) data.Append(",allow_other");
        var flags = LibC.MS_NOSUID | LibC.MS_NODEV | (options.ReadOnly ? LibC.MS_RDONLY : 0);
        if (LibC.Mount(options.FsName, mountPoint, "fuse." + options.Subtype, flags, data.ToString()) != 0)
        {
            var errno = LibC.LastErrno;
            LibC.Close(fd);
            throw new IOException($"mount of {mountPoint} failed: {LibC.Describe(errno)}");
        }
        return new MountedConnection { DeviceFd = fd, MountPoint = mountPoint };
    }

    private static MountedConnection MountWithFusermount(FuseMountOptions options, string mountPoint)
    {
        var opts = new List<string> { "fsname=" + options.FsName, "subtype=" + options.Subtype };
        if (options.DefaultPermissions) opts.Add("default_permissions");
        if (options.AllowOther) opts.Add("allow_other");
        if (options.AutoUnmount) opts.Add("auto_unmount");
        if (options.ReadOnly) opts.Add("ro");

        var pair = stackalloc int[2];
        // Both ends start CLOEXEC, so a process spawned elsewhere meanwhile never inherits our end
        // (which would keep auto_unmount from noticing our death); only fusermount3's end is
        // made inheritable.
        if (LibC.SocketPair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, pair) != 0)
            throw new IOException($"socketpair failed: {LibC.Describe(LibC.LastErrno)}");
        int ours = pair[0], theirs = pair[1];
        LibC.Fcntl(theirs, LibC.F_SETFD, 0);

        Process process;
        var stderr = new StringBuilder();
        try
        {
            var start = new ProcessStartInfo(FindFusermount())
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("-o");
            start.ArgumentList.Add(string.Join(',', opts));
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(mountPoint);
            start.Environment["_FUSE_COMMFD"] = theirs.ToString(System.Globalization.CultureInfo.InvariantCulture);
            process = Process.Start(start) ?? throw new IOException("fusermount3 did not start");
            process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
            process.OutputDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
        }
        catch
        {
            LibC.Close(ours); LibC.Close(theirs);
            throw;
        }
        LibC.Close(theirs);

        var fd = ReceiveFd(ours);
        if (fd < 0)
        {
            process.WaitForExit((int)ToolTimeout.TotalMilliseconds);
            LibC.Close(ours);
            string message; lock (stderr) message = stderr.ToString().Trim();
            throw new IOException($"fusermount3 could not mount {mountPoint}: {(message.Length > 0 ? message : "no descriptor received")}");
        }

        if (options.AutoUnmount)
            return new MountedConnection { DeviceFd = fd, MountPoint = mountPoint, Fusermount = process, CommSocket = ours };

        if (!process.WaitForExit((int)ToolTimeout.TotalMilliseconds)) { try { process.Kill(); } catch (InvalidOperationException) { } }
        process.Dispose();
        LibC.Close(ours);
        return new MountedConnection { DeviceFd = fd, MountPoint = mountPoint };
    }

    private static int ReceiveFd(int socket)
    {
        byte data = 0;
        var control = stackalloc byte[64];
        var iov = new LibC.IoVec { Base = &data, Length = 1 };
        var msg = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
        nint n;
        do n = LibC.RecvMsg(socket, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && LibC.LastErrno == LibC.EINTR);
        if (n <= 0 || msg.ControlLength < (nuint)sizeof(LibC.CmsgHdr) + sizeof(int)) return -1;
        var cmsg = (LibC.CmsgHdr*)control;
        if (cmsg->Level != LibC.SOL_SOCKET || cmsg->Type != LibC.SCM_RIGHTS) return -1;
        return *(int*)(control + sizeof(LibC.CmsgHdr));
    }

    /// <summary>Lazily unmounts <paramref name="mountPoint"/> (umount2 MNT_DETACH as root, else
    /// fusermount3 -u -z). Returns false when nothing was mounted there.</summary>
    public static bool Unmount(string mountPoint)
    {
        mountPoint = MountTable.Normalize(mountPoint);
        if (IsRoot)
        {
            if (LibC.Umount2(mountPoint, LibC.MNT_DETACH) == 0) return true;
            var errno = LibC.LastErrno;
            if (errno == LibC.EINVAL || errno == LibC.ENOENT) return false;
            throw new IOException($"unmount of {mountPoint} failed: {LibC.Describe(errno)}");
        }
        if (!MountTable.IsFuseMounted(mountPoint)) return false;
        var start = new ProcessStartInfo(FindFusermount()) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-u", "-z", "--", mountPoint }) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new IOException("fusermount3 did not start");
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit((int)ToolTimeout.TotalMilliseconds)) { process.Kill(); throw new IOException("fusermount3 -u timed out"); }
        if (process.ExitCode != 0) throw new IOException($"fusermount3 -u {mountPoint} failed: {error.Result.Trim()}");
        return true;
    }

    private static string FindFusermount()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Append("/usr/bin").Append("/bin"))
        {
            var candidate = Path.Combine(dir, "fusermount3");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("fusermount3 not found (install the fuse3 package)");
    }
}
