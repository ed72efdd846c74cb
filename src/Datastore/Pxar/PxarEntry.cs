using System.Text;

namespace BackupFs.Datastore.Pxar;

/// <summary>
/// One archive entry as the accessor found it. <see cref="Identity"/> is the archive offset of the
/// entry's FILENAME header (the root: its ENTRY header) — stable for the archive, usable as an inode
/// seed. A hardlink entry carries no stat: follow it with <see cref="PxarAccessor.FollowHardlinkAsync"/>
/// to get the target (same Identity as the target itself). pxar stores no link count; use
/// <see cref="PxarHardlinkCounter"/> or derive it in the mount.
/// </summary>
public sealed class PxarEntry
{
    public long Identity { get; init; }
    /// <summary>Raw name bytes (empty for the root).</summary>
    public byte[] Name { get; init; } = [];
    public string NameString => Encoding.UTF8.GetString(Name);
    public PxarEntryKind Kind { get; init; }
    /// <summary>Mode/owner/mtime/flags; default for hardlink entries.</summary>
    public PxarStat Stat { get; init; }
    /// <summary>File size for regular files, target length for symlinks, otherwise 0.</summary>
    public long Size { get; init; }
    /// <summary>Symlink target, or the informational target path stored in a HARDLINK item.</summary>
    public byte[]? LinkTarget { get; init; }
    public ulong DeviceMajor { get; init; }
    public ulong DeviceMinor { get; init; }
    /// <summary>For <see cref="PxarEntryKind.Hardlink"/>: Identity (FILENAME offset) of the target.</summary>
    public long HardlinkTargetIdentity { get; init; }

    /// <summary>Offset of the ENTRY header (metadata items follow it).</summary>
    internal long EntryOffset { get; init; }
    /// <summary>Offset of the first item after the metadata items (content item, first child, or next sibling).</summary>
    internal long MetadataEnd { get; init; }
    /// <summary>End of the entry's last item in the metadata stream (non-directories).</summary>
    internal long ItemsEnd { get; init; }
    /// <summary>File data offset in the metadata stream (v1), or the PAYLOAD header offset in the payload stream (v2).</summary>
    internal long ContentOffset { get; init; }
    internal bool ContentInPayloadStream { get; init; }
    internal volatile bool PayloadHeaderChecked;
    /// <summary>For directories: archive offset one past the end of its GOODBYE item.</summary>
    internal long DirectoryEnd { get; init; }
    internal bool IsRoot { get; init; }

    public bool IsDirectory => Kind == PxarEntryKind.Directory;
    public override string ToString() => IsRoot ? "the root directory" : $"{Kind} '{NameString}' @{Identity}";
}
