namespace BackupFs.FsHost.Vfs;

/// <summary>The answer to statfs (df). Counts are in <see cref="BlockSize"/> units.</summary>
public readonly record struct FileSystemStatistics(
    ulong Blocks,
    ulong FreeBlocks,
    ulong AvailableBlocks,
    ulong Files,
    ulong FreeFiles,
    uint BlockSize = 4096,
    uint MaxNameLength = 255,
    uint FragmentSize = 4096);
