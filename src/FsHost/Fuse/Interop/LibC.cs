using System.Runtime.InteropServices;

namespace BackupFs.FsHost.Fuse.Interop;

/// <summary>The few libc calls the FUSE binding needs (no libfuse).</summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int O_RDWR = 2;
    public const int O_CLOEXEC = 0x80000;
    public const int F_SETFD = 2;
    public const int FD_CLOEXEC = 1;
    public const int AF_UNIX = 1;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4;
    public const int MNT_DETACH = 2;
    public const int F_OK = 0;

    public const int EINTR = 4, ENOENT = 2, EAGAIN = 11, ENODEV = 19, EINVAL = 22, ENOTCONN = 107, ECONNABORTED = 103;

    [LibraryImport(Lib, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint Writev(int fd, IoVector* vectors, int count);

    /// <summary>struct iovec.</summary>
    public struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "mount", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Mount(string source, string target, string fsType, ulong flags, string data);

    [LibraryImport(Lib, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(Lib, EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Access(string path, int mode);

    [LibraryImport(Lib, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport(Lib, EntryPoint = "getegid")]
    public static partial uint GetEgid();

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec { public void* Base; public nuint Length; }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr { public nuint Length; public int Level; public int Type; }

    public static int LastErrno => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
