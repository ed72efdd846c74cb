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
public readonly record struct OpenInfo(ulong Handle, OpenOptions Options = OpenOptions.None);

/// <summary>The answer to create: the new entry and its open handle.</summary>
public readonly record struct CreateInfo(EntryInfo Entry, OpenInfo Open);
