using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Staging;

/// <summary>Mount options for staging.</summary>
public sealed record StagingOptions
{
    /// <summary>A session with no file open for writing and no change for this long is committed.</summary>
    public TimeSpan CommitDelay { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long an explicit commit waits for files still open for writing.</summary>
    public TimeSpan OpenFilesWait { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Pause before a failed automatic commit is tried again.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// The key commits are encrypted with (crypt-mode encrypt, signed manifest): one write key per
    /// mount, the first --keyfile. Null: plain commits.
    /// </summary>
    public CryptKey? WriteKey { get; init; }
    /// <summary>Keys for reading base snapshots (the mount's keys; includes the write key).</summary>
    public KeyRing Keys { get; init; } = KeyRing.Empty;
    /// <summary>Keyed chunk caches shared with the mount's tree (else each base reader keeps a small one).</summary>
    public ChunkSourceSet? ChunkSources { get; init; }

    /// <summary>
    /// Staged files at least this large are cut and stored in the background once closed and quiet
    /// (<see cref="PayloadPreparer"/>); long.MaxValue: never. The default is the average chunk size:
    /// a smaller file would get chunks of its own instead of sharing one with its neighbours.
    /// </summary>
    public long PrepareFilesFrom { get; init; } = Datastore.Formats.Chunker.DefaultAverageSize;
    /// <summary>
    /// How long a closed big file stays unchanged before it is prepared. Short, so that the last files
    /// of a copy are cut while it runs, not by the commit after it (rsync's close, chmod, utimes and
    /// rename change no content); each later re-cut of the same file waits 4x longer, up to 10 s, so a
    /// file that keeps being reopened and appended to is not cut over and over.
    /// </summary>
    public TimeSpan PrepareAfter { get; init; } = TimeSpan.FromMilliseconds(40);
    /// <summary>How long a directory has no file closed in it before its small files are cut (together, as runs).</summary>
    public TimeSpan PrepareDirectoriesAfter { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Once a staged file is cut in the background, its spool file's pages are written out and dropped
    /// from the page cache (<see cref="SpoolPageRelease"/>). Off by default: the spool files of a
    /// session committed within the kernel's dirty expiry are deleted before they are ever written.
    /// </summary>
    public bool ReleaseSpoolPages { get; init; }

    /// <summary>Where commits store chunks (null: the datastore's own chunk store).</summary>
    public Datastore.Store.IChunkBackend? ChunkBackend { get; init; }

    /// <summary>What a commit writes with: encrypted with <see cref="WriteKey"/> when there is one.</summary>
    public Datastore.Writing.BackupOptions CommitOptions() => new() { Key = WriteKey, ChunkBackend = ChunkBackend };
}

/// <summary>What every staging session needs: the datastore, the chunk cache for reading bases, options and a log.</summary>
public sealed record StagingContext(DataStore Store, CachedChunkSource Chunks, StagingOptions Options, Action<string> Log)
{
    private volatile bool _kernelKeepsWriteTimes;

    /// <summary>
    /// The kernel's writeback cache is on: the kernel keeps mtime/ctime of files being written and
    /// flushes them with SETATTR, so a WRITE arriving later must not stamp the server's clock over
    /// them (committed mtimes then differed from what the mount showed).
    /// </summary>
    public bool KernelKeepsWriteTimes { get => _kernelKeepsWriteTimes; set => _kernelKeepsWriteTimes = value; }

    private volatile bool _kernelPassesThrough;

    /// <summary>
    /// FUSE passthrough is on: opens of staged files that have a spool file name it as their backing
    /// file, so the kernel reads and writes it without a request; sizes and times are then read back
    /// from the spool file (at getattr while a writer is open, and at its release).
    /// </summary>
    public bool KernelPassesThrough { get => _kernelPassesThrough; set => _kernelPassesThrough = value; }

    private PayloadPreparer? _preparer;
    private readonly Lock _preparerLock = new();

    /// <summary>The background payload preparer of the mount's sessions (started on first use, stopped by the staging area).</summary>
    internal PayloadPreparer Preparer
    {
        get { lock (_preparerLock) return _preparer ??= new PayloadPreparer(this); }
    }

    internal async ValueTask StopPreparerAsync()
    {
        PayloadPreparer? preparer;
        lock (_preparerLock) preparer = _preparer; // stays: a stopped preparer takes no more work
        if (preparer is not null) await preparer.DisposeAsync().ConfigureAwait(false);
    }
}
