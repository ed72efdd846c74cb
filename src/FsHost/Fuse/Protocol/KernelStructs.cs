using System.Runtime.InteropServices;

namespace BackupFs.FsHost.Fuse.Protocol;

// Kernel protocol structures, little-endian, identical on every 64-bit architecture.
// Sizes are asserted in KernelStructSizes.Verify (and in tests).

[StructLayout(LayoutKind.Sequential)]
internal struct FuseInHeader
{
    public uint Length; public FuseOpcode Opcode; public ulong Unique; public ulong NodeId;
    public uint Uid; public uint Gid; public uint Pid; public ushort TotalExtLength; public ushort Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseOutHeader { public uint Length; public int Error; public ulong Unique; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseAttr
{
    public ulong Ino, Size, Blocks, Atime, Mtime, Ctime;
    public uint AtimeNsec, MtimeNsec, CtimeNsec, Mode, Nlink, Uid, Gid, Rdev, BlkSize, Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseEntryOut
{
    public ulong NodeId, Generation, EntryValid, AttrValid;
    public uint EntryValidNsec, AttrValidNsec;
    public FuseAttr Attr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseAttrOut { public ulong AttrValid; public uint AttrValidNsec, Dummy; public FuseAttr Attr; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseInitIn { public uint Major, Minor, MaxReadahead, Flags, Flags2; }

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseInitOut
{
    public uint Major, Minor, MaxReadahead, Flags;
    public ushort MaxBackground, CongestionThreshold;
    public uint MaxWrite, TimeGran;
    public ushort MaxPages, MapAlignment;
    public uint Flags2, MaxStackDepth;
    public ushort RequestTimeout;
    public fixed ushort Unused[11];
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseGetAttrIn { public uint GetAttrFlags, Dummy; public ulong Fh; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseSetAttrIn
{
    public uint Valid, Padding; public ulong Fh, Size, LockOwner, Atime, Mtime, Ctime;
    public uint AtimeNsec, MtimeNsec, CtimeNsec, Mode, Unused4, Uid, Gid, Unused5;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenIn { public int Flags; public uint OpenFlags; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenOut { public ulong Fh; public uint OpenFlags; public int BackingId; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseCreateIn { public int Flags; public uint Mode, Umask, OpenFlags; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseMkNodIn { public uint Mode, Rdev, Umask, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseMkDirIn { public uint Mode, Umask; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseRename2In { public ulong NewDir; public uint Flags, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseLinkIn { public ulong OldNodeId; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseReadIn { public ulong Fh, Offset; public uint Size, ReadFlags; public ulong LockOwner; public uint Flags, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseWriteIn { public ulong Fh, Offset; public uint Size, WriteFlags; public ulong LockOwner; public uint Flags, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseWriteOut { public uint Size, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseReleaseIn { public ulong Fh; public int Flags; public uint ReleaseFlags; public ulong LockOwner; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseFlushIn { public ulong Fh; public uint Unused, Padding; public ulong LockOwner; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseFsyncIn { public ulong Fh; public uint FsyncFlags, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseKStatFs
{
    public ulong Blocks, BFree, BAvail, Files, FFree;
    public uint BSize, NameLen, FrSize, Padding;
    public uint Spare0, Spare1, Spare2, Spare3, Spare4, Spare5;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseSetXattrIn { public uint Size, Flags; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseGetXattrIn { public uint Size, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseGetXattrOut { public uint Size, Padding; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetIn { public ulong NLookup; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseBatchForgetIn { public uint Count, Dummy; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetOne { public ulong NodeId, NLookup; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseDirent { public ulong Ino, Off; public uint NameLen, Type; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseNotifyInvalInodeOut { public ulong Ino; public long Off, Len; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseNotifyInvalEntryOut { public ulong Parent; public uint NameLen, Flags; }

/// <summary>FUSE_DEV_IOC_BACKING_OPEN's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseBackingMap { public int Fd; public uint Flags; public ulong Padding; }

/// <summary>The 80-byte command area of a FUSE io_uring SQE (struct fuse_uring_cmd_req).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseUringCmdReq { public ulong Flags, CommitId; public ushort QueueId, Pad0, Pad1, Pad2; }

/// <summary>struct fuse_uring_ent_in_out, at offset 256 of a ring entry's header area.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseUringEntInOut { public ulong Flags, CommitId; public uint PayloadSize, Padding; public ulong Reserved; }

[StructLayout(LayoutKind.Sequential)]
internal struct FuseNotifyDeleteOut { public ulong Parent, Child; public uint NameLen, Padding; }

/// <summary>The sizes the kernel expects (fuse-notes §5.1); checked once at session start.</summary>
internal static unsafe class KernelStructSizes
{
    public static void Verify()
    {
        Check(sizeof(FuseInHeader), 40, nameof(FuseInHeader));
        Check(sizeof(FuseOutHeader), 16, nameof(FuseOutHeader));
        Check(sizeof(FuseAttr), 88, nameof(FuseAttr));
        Check(sizeof(FuseEntryOut), 128, nameof(FuseEntryOut));
        Check(sizeof(FuseAttrOut), 104, nameof(FuseAttrOut));
        Check(sizeof(FuseInitOut), 64, nameof(FuseInitOut));
        Check(sizeof(FuseSetAttrIn), 88, nameof(FuseSetAttrIn));
        Check(sizeof(FuseOpenOut), 16, nameof(FuseOpenOut));
        Check(sizeof(FuseReadIn), 40, nameof(FuseReadIn));
        Check(sizeof(FuseWriteIn), 40, nameof(FuseWriteIn));
        Check(sizeof(FuseReleaseIn), 24, nameof(FuseReleaseIn));
        Check(sizeof(FuseFlushIn), 24, nameof(FuseFlushIn));
        Check(sizeof(FuseCreateIn), 16, nameof(FuseCreateIn));
        Check(sizeof(FuseKStatFs), 80, nameof(FuseKStatFs));
        Check(sizeof(FuseDirent), 24, nameof(FuseDirent));
        Check(sizeof(FuseNotifyInvalInodeOut), 24, nameof(FuseNotifyInvalInodeOut));
        Check(sizeof(FuseNotifyDeleteOut), 24, nameof(FuseNotifyDeleteOut));
        Check(sizeof(FuseBackingMap), 16, nameof(FuseBackingMap));
        Check(sizeof(FuseUringCmdReq), 24, nameof(FuseUringCmdReq));
        Check(sizeof(FuseUringEntInOut), 32, nameof(FuseUringEntInOut));
    }

    private static void Check(int actual, int expected, string name)
    {
        if (actual != expected)
            throw new InvalidOperationException($"{name} is {actual} bytes, the kernel expects {expected}");
    }
}
