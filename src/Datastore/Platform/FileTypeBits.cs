namespace BackupFs.Datastore.Platform;

/// <summary>
/// The file type bits of st_mode (S_IFMT and its values) as Linux &lt;sys/stat.h&gt; defines them;
/// pxar's stat entry carries the same bits. Octal in the comments, as the C headers write them.
/// </summary>
public static class FileTypeBits
{
    public const uint Mask = 0xF000;        // S_IFMT   0170000
    public const uint Socket = 0xC000;      // S_IFSOCK 0140000
    public const uint Symlink = 0xA000;     // S_IFLNK  0120000
    public const uint Regular = 0x8000;     // S_IFREG  0100000
    public const uint BlockDevice = 0x6000; // S_IFBLK  0060000
    public const uint Directory = 0x4000;   // S_IFDIR  0040000
    public const uint CharDevice = 0x2000;  // S_IFCHR  0020000
    public const uint Fifo = 0x1000;        // S_IFIFO  0010000

    /// <summary>Permission and set-id/sticky bits (everything below the type).</summary>
    public const uint PermissionMask = 0xFFF; // 07777

    /// <summary>The type bits of <paramref name="mode"/>.</summary>
    public static uint Of(uint mode) => mode & Mask;

    /// <summary>A name for the type, for messages ("directory", "FIFO"...).</summary>
    public static string Describe(uint mode) => Of(mode) switch
    {
        Fifo => "FIFO",
        CharDevice => "character device",
        BlockDevice => "block device",
        Socket => "socket",
        Directory => "directory",
        Symlink => "symbolic link",
        Regular => "regular file",
        _ => $"file of type 0x{Of(mode):X}",
    };
}
