namespace BackupFs.FsHost.Fuse;

/// <summary>Tuning of a FUSE session (the defaults follow fuse-notes §2).</summary>
public sealed record FuseSessionOptions
{
    /// <summary>The protocol minor version we speak; the kernel's if lower.</summary>
    internal const uint ProtocolMinor = 38;

    /// <summary>Threads blocked in read() on /dev/fuse. Several, so one is always waiting.</summary>
    public int ReaderThreads { get; init; } = 8;

    /// <summary>Largest WRITE (and READ) request: 1 MiB (max_pages 256).</summary>
    public int MaxWrite { get; init; } = 1 << 20;

    /// <summary>Background requests (readahead, async reads) the kernel keeps in flight.</summary>
    public int MaxBackground { get; init; } = 64;

    /// <summary>Where the kernel starts throttling background requests.</summary>
    public int CongestionThreshold { get; init; } = 48;

    /// <summary>
    /// Let the kernel cache writes and send them in large batches (WRITEBACK_CACHE): writes run at
    /// page-cache speed instead of one round trip per write(2). Data reaches the filesystem by
    /// close(2) or fsync(2) at the latest, so a crash of the server can lose what an application
    /// wrote but had not closed or synced yet — as a power cut does on a local filesystem.
    /// </summary>
    public bool WritebackCache { get; init; }

    /// <summary>
    /// Offer FUSE passthrough (kernel 6.9+, root): opens that name a backing file are read and
    /// written by the kernel straight from it. Excludes the writeback cache: when the kernel
    /// agrees, <see cref="WritebackCache"/> is not asked for.
    /// </summary>
    public bool Passthrough { get; init; }

    /// <summary>Serve requests over io_uring queues (kernel 6.14+) instead of read/write on /dev/fuse:
    /// by default when the administrator has switched the kernel's fuse.enable_uring on.</summary>
    public FuseIoUring IoUring { get; init; } = FuseIoUring.Auto;

    /// <summary>Ring entries (requests in flight) per io_uring queue; there is one queue per possible CPU.</summary>
    public int IoUringQueueDepth { get; init; } = 8;

    /// <summary>An io_uring queue's thread runs handlers itself, so one that runs this long holds up
    /// every request from its CPU: the session logs it (once per such request) to make a stall visible.</summary>
    public TimeSpan IoUringStallReport { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Negotiate READDIRPLUS (entries with attributes).</summary>
    public bool ReaddirPlus { get; init; } = true;

    /// <summary>As root, the read_ahead_kb written to the mount's bdi after INIT so buffered reads
    /// arrive as 1 MiB requests; null leaves the kernel default (128).</summary>
    public int? ReadAheadKb { get; init; } = 1024;

    /// <summary>Where the session reports problems (default: standard error).</summary>
    public Action<string>? Log { get; init; }

    internal int RequestBufferSize => Math.Max(8192, MaxWrite + 64 * 1024);
    internal int ReplyPayloadSize => Math.Max(64 * 1024, MaxWrite);

    internal void Validate()
    {
        if (ReaderThreads is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(ReaderThreads), "1..256 reader threads");
        if (MaxWrite < 4096 || MaxWrite > (1 << 20) || MaxWrite % 4096 != 0)
            throw new ArgumentOutOfRangeException(nameof(MaxWrite), "a multiple of 4096 up to 1 MiB");
        if (MaxBackground is < 1 or > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(MaxBackground));
        if (CongestionThreshold is < 1 or > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(CongestionThreshold));
        if (IoUringQueueDepth is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(IoUringQueueDepth), "1..64 entries per queue");
        if (IoUringStallReport <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(IoUringStallReport), "a positive time");
    }
}

/// <summary>Whether requests travel over io_uring (FUSE_OVER_IO_URING) or read/write on /dev/fuse.</summary>
public enum FuseIoUring
{
    /// <summary>io_uring when the kernel offers it (module parameter fuse.enable_uring=Y), else
    /// /dev/fuse; /dev/fuse for auto_unmount mounts (see <see cref="FuseSession.Mount"/>).</summary>
    Auto,
    /// <summary>As Auto, but as root first set fuse.enable_uring=Y if it is off.</summary>
    On,
    /// <summary>Always /dev/fuse.</summary>
    Off,
}
