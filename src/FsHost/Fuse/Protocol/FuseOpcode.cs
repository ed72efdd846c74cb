namespace BackupFs.FsHost.Fuse.Protocol;

/// <summary>Kernel request opcodes (linux/fuse.h).</summary>
internal enum FuseOpcode : uint
{
    Lookup = 1, Forget = 2, GetAttr = 3, SetAttr = 4, ReadLink = 5, Symlink = 6, MkNod = 8, MkDir = 9,
    Unlink = 10, RmDir = 11, Rename = 12, Link = 13, Open = 14, Read = 15, Write = 16, StatFs = 17,
    Release = 18, Fsync = 20, SetXattr = 21, GetXattr = 22, ListXattr = 23, RemoveXattr = 24,
    Flush = 25, Init = 26, OpenDir = 27, ReadDir = 28, ReleaseDir = 29, FsyncDir = 30,
    Access = 34, Create = 35, Interrupt = 36, Destroy = 38, Ioctl = 39, BatchForget = 42, ReadDirPlus = 44,
    Rename2 = 45,
}

/// <summary>Unsolicited notification codes (sent with unique = 0).</summary>
internal enum FuseNotifyCode
{
    InvalInode = 2, InvalEntry = 3, Delete = 6,
}

/// <summary>INIT flag bits of the kernel protocol (not libfuse's FUSE_CAP_*).</summary>
[Flags]
internal enum FuseInitFlags : uint
{
    AsyncRead = 1u << 0,
    BigWrites = 1u << 5,
    DontMask = 1u << 6,
    AutoInvalData = 1u << 12,
    DoReaddirplus = 1u << 13,
    ReaddirplusAuto = 1u << 14,
    AsyncDio = 1u << 15,
    WritebackCache = 1u << 16,
    ParallelDirops = 1u << 18,
    MaxPages = 1u << 22,
    CacheSymlinks = 1u << 23,
    InitExt = 1u << 30,
}

/// <summary>INIT flag bits 32..63, sent shifted down into flags2 (only read with INIT_EXT).</summary>
[Flags]
internal enum FuseInitFlags2 : uint
{
    /// <summary>FUSE_DIRECT_IO_ALLOW_MMAP (1 &lt;&lt; 36): shared mmap of a FOPEN_DIRECT_IO file works (else ENODEV).</summary>
    DirectIoAllowMmap = 1u << 4,
    /// <summary>FUSE_PASSTHROUGH (1 &lt;&lt; 37): opens may name a backing file the kernel reads and writes itself.</summary>
    Passthrough = 1u << 5,
    /// <summary>FUSE_OVER_IO_URING (1 &lt;&lt; 41): requests may arrive on io_uring queues.</summary>
    OverIoUring = 1u << 9,
}

/// <summary>fuse_open_out.open_flags bits beyond <see cref="BackupFs.FsHost.Vfs.OpenOptions"/>.</summary>
internal static class FuseOpenFlags
{
    /// <summary>FOPEN_PASSTHROUGH: fuse_open_out.backing_id names the backing file.</summary>
    public const uint Passthrough = 1u << 7;
}
