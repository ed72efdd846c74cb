using System.Runtime.InteropServices;

namespace BackupFs.FsHost.Fuse.Interop;

/// <summary>The io_uring system calls and ring layout (linux/io_uring.h), without liburing.</summary>
internal static unsafe partial class IoUringNative
{
    // The same numbers on every architecture (io_uring came after the syscall tables were unified).
    private const nint SysSetup = 425, SysEnter = 426;

    public const uint SetupCqSize = 1u << 3;
    public const uint SetupSqe128 = 1u << 10;
    public const uint FeatSingleMmap = 1u << 0;
    public const uint EnterGetEvents = 1u << 0;
    public const long OffSqRing = 0, OffCqRing = 0x8000000, OffSqes = 0x10000000;
    public const byte OpRead = 22, OpUringCmd = 46;
    public const int Sqe128Size = 128;
    public const int CqeSize = 16;

    public const int ProtRead = 1, ProtWrite = 2, MapShared = 0x01, MapPopulate = 0x8000;
    public const int EfdCloexec = 0x80000;

    [StructLayout(LayoutKind.Sequential)]
    public struct SqRingOffsets { public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1; public ulong UserAddr; }

    [StructLayout(LayoutKind.Sequential)]
    public struct CqRingOffsets { public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1; public ulong UserAddr; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
        public SqRingOffsets SqOff;
        public CqRingOffsets CqOff;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Cqe { public ulong UserData; public int Res; public uint Flags; }

    /// <summary>The SQE fields we fill (first 48 bytes; the command area follows at 48).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Sqe
    {
        public byte Opcode, Flags; public ushort IoPrio; public int Fd;
        public ulong Off;     // cmd_op (u32) + pad for URING_CMD
        public ulong Addr;
        public uint Len, OpFlags;
        public ulong UserData;
        public ushort BufIndex, Personality; public int SpliceFdIn;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    public static partial int SchedSetAffinity(int pid, nuint size, ulong* mask);

    /// <summary>io_uring_setup(2): the ring fd, or -errno.</summary>
    public static int Setup(uint entries, Params* p)
    {
        var r = Syscall(SysSetup, (nint)entries, (nint)p, 0, 0, 0, 0);
        return r >= 0 ? (int)r : -Marshal.GetLastPInvokeError();
    }

    /// <summary>io_uring_enter(2): SQEs consumed, or -errno.</summary>
    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags)
    {
        var r = Syscall(SysEnter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, 0, 0);
        return r >= 0 ? (int)r : -Marshal.GetLastPInvokeError();
    }

    public static readonly void* MapFailed = (void*)-1;
}
