namespace BackupFs.FsHost.Vfs;

/// <summary>
/// The attributes of one node (a stat without st_dev). Plain fields so trees can fill them
/// cheaply. <see cref="Mode"/> holds the file type bits (S_IFREG, S_IFDIR…) and permissions.
/// </summary>
public struct NodeAttributes
{
    /// <summary>Inode number shown to applications (st_ino); usually the node id.</summary>
    public ulong Inode;
    /// <summary>Size in bytes.</summary>
    public ulong Size;
    /// <summary>Allocated 512-byte blocks; 0 lets the binding derive it from the size.</summary>
    public ulong Blocks;
    /// <summary>Type and permission bits, as in st_mode.</summary>
    public uint Mode;
    /// <summary>Hard link count.</summary>
    public uint LinkCount;
    public uint Uid;
    public uint Gid;
    /// <summary>Device number for character and block devices.</summary>
    public uint Rdev;
    /// <summary>Preferred I/O size; 0 lets the kernel choose.</summary>
    public uint BlockSize;
    public Timestamp AccessTime;
    public Timestamp ModificationTime;
    public Timestamp ChangeTime;

    public readonly bool IsDirectory => (Mode & FileModes.TypeMask) == FileModes.Directory;
}

/// <summary>st_mode file type bits and helpers.</summary>
public static class FileModes
{
    public const uint TypeMask = 0xF000;
    public const uint Fifo = 0x1000;
    public const uint CharDevice = 0x2000;
    public const uint Directory = 0x4000;
    public const uint BlockDevice = 0x6000;
    public const uint Regular = 0x8000;
    public const uint Symlink = 0xA000;
    public const uint Socket = 0xC000;

    /// <summary>The dirent type (DT_*) for a mode: the type bits shifted down.</summary>
    public static uint DirentType(uint mode) => (mode & TypeMask) >> 12;
}

/// <summary>Device numbers as FUSE attributes carry them.</summary>
public static class DeviceNumbers
{
    /// <summary>The kernel's 32-bit encoding (new_encode_dev).</summary>
    public static uint Encode(ulong major, ulong minor) =>
        (uint)((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffUL) << 12));
}
