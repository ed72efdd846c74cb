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

/// <summary>st_mode file type bits as the VFS names them (the values are <see cref="Datastore.Platform.FileTypeBits"/>).</summary>
public static class FileModes
{
    public const uint TypeMask = Datastore.Platform.FileTypeBits.Mask;
    public const uint Fifo = Datastore.Platform.FileTypeBits.Fifo;
    public const uint CharDevice = Datastore.Platform.FileTypeBits.CharDevice;
    public const uint Directory = Datastore.Platform.FileTypeBits.Directory;
    public const uint BlockDevice = Datastore.Platform.FileTypeBits.BlockDevice;
    public const uint Regular = Datastore.Platform.FileTypeBits.Regular;
    public const uint Symlink = Datastore.Platform.FileTypeBits.Symlink;
    public const uint Socket = Datastore.Platform.FileTypeBits.Socket;

    /// <summary>The dirent type (DT_*) for a mode: the type bits shifted down.</summary>
    public static uint DirentType(uint mode) => (mode & TypeMask) >> 12;
}
