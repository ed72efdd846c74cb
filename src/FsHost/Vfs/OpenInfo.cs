namespace BackupFs.FsHost.Vfs;

/// <summary>Per-open caching choices returned by open, opendir and create (FOPEN_* bits).</summary>
[Flags]
public enum OpenOptions : uint
{
    None = 0,
    /// <summary>Bypass the page cache: reads and writes arrive with the application's sizes.</summary>
    DirectIo = 1,
    /// <summary>Keep the page cache from earlier opens (immutable files).</summary>
    KeepCache = 2,
    /// <summary>The file is not seekable.</summary>
    NonSeekable = 4,
    /// <summary>Let the kernel cache this directory's listing (opendir only).</summary>
    CacheDirectory = 8,
    /// <summary>Do not send FLUSH on close.</summary>
    NoFlush = 32,
}

/// <summary>The answer to open and opendir: a handle the filesystem chooses, returned with every
/// later request on this open file, and caching options.</summary>
public readonly record struct OpenInfo(ulong Handle, OpenOptions Options = OpenOptions.None)
{
    /// <summary>
    /// Optional, for open and create of regular files: a local file holding this file's data,
    /// open for the access the open asked for. When the binding passes files through (see
    /// <see cref="IFileSystem.KernelPassesThrough"/>) the kernel then reads and writes it directly
    /// and READ/WRITE requests for this open never reach the filesystem; otherwise it is ignored.
    /// The binding registers it while replying (the kernel then holds its own reference, shared by
    /// every passthrough open of the node until the last release); the filesystem keeps ownership
    /// and keeps it open at least until that reply is sent (simplest: until the open's release).
    /// All opens of one node at a time must either pass through or not (the kernel refuses to mix
    /// them on one inode).
    /// </summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? BackingFile { get; init; }
}

/// <summary>The answer to create: the new entry and its open handle.</summary>
public readonly record struct CreateInfo(EntryInfo Entry, OpenInfo Open);
