using System.Collections.Concurrent;
using BackupFs.Datastore.Platform;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// Empty spool files made ahead of need by a background thread at low CPU priority, so that a
/// staged create renames one into place instead of allocating an inode while the kernel waits.
/// Allocating is the costly part of a create on some filesystems: ext4 without a journal skips
/// every inode freed in the last minute and spent ~250 µs per file here after a commit freed
/// thousands (half of the mount's CPU in an rsync of small files). When none is ready the caller
/// creates its file itself, as before, so a stalled or failing supply only costs that.
/// Files are named <c>spare-N</c> in bucket directories of their own beside the spool directory,
/// made a batch at a time into one bucket and offered only when the batch is complete: a create
/// holds its directory's lock for the whole (slow) allocation, and a take's rename needs the lock
/// of the spare's directory, so takes and makes never meet in one directory (they did: 7-10% of
/// the mount's CPU spun on that lock in an rsync of small files). Ones left by an earlier process
/// are deleted, never used (their content is not known to be empty); a bucket that is not a real
/// directory (a symlink) is never entered.
/// </summary>
internal sealed class SpareSpoolFiles : IDisposable
{
    /// <summary>Files kept ready, and the level below which the worker tops them up.</summary>
    public const int Target = 256, RefillBelow = 192;
    /// <summary>Files made into one bucket before they are offered, and buckets enough that the oldest ready batch is never in the one being filled.</summary>
    private const int BatchSize = 32, Buckets = Target / BatchSize + 2;
    private const string Prefix = "spare-";

    private readonly string _directory;
    private readonly ConcurrentQueue<string> _ready = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Lock _start = new();
    private Thread? _worker;
    private bool _leftoversDeleted; // by the first worker only: later ones must not delete the ready files
    private volatile bool _disposed;
    private long _lastAskedMs; // Environment.TickCount64 of the latest take
    private volatile string? _lastFailure;

    /// <summary>A worker with nothing asked of it for this long ends (a session left idle holds no thread); the next take starts one.</summary>
    private readonly TimeSpan _idleExit;
    private long _next, _batches;

    public SpareSpoolFiles(string directory, TimeSpan? idleExit = null)
    {
        _directory = directory;
        _idleExit = idleExit ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>Whether a worker thread exists now (for tests).</summary>
    internal bool Running { get { lock (_start) return _worker is not null; } }

    /// <summary>Files ready now (for tests).</summary>
    public int Ready => _ready.Count;

    /// <summary>Why the latest attempt to make a spare failed, if one did (for diagnostics).</summary>
    public string? LastFailure => _lastFailure;

    /// <summary>Moves a ready empty file to <paramref name="path"/> (replacing a leftover there); false when none is ready.</summary>
    public bool TryTake(string path)
    {
        Volatile.Write(ref _lastAskedMs, Environment.TickCount64);
        StartOnce();
        bool taken = false;
        while (!taken && _ready.TryDequeue(out var spare))
        {
            try
            {
                File.Move(spare, path, overwrite: true); // rename(2): no inode allocated
                taken = true;
            }
            catch (FileNotFoundException) { } // gone with its directory (a discard): try the next
            catch (DirectoryNotFoundException) { }
            catch (IOException) { break; }
            catch (UnauthorizedAccessException) { break; }
        }
        if (_ready.Count < RefillBelow) _wake.Release();
        return taken;
    }

    private void StartOnce()
    {
        if (_worker is not null || _disposed) return;
        lock (_start)
        {
            if (_worker is not null || _disposed) return;
            _worker = new Thread(Run) { IsBackground = true, Name = "backupfs spool spares" };
            _worker.Start();
        }
    }

    private void Run()
    {
        ThreadNiceness.LowerCurrent(10);
        if (!_leftoversDeleted)
        {
            DeleteLeftovers();
            _leftoversDeleted = true;
        }
        var retry = MinRetry;
        while (!_disposed)
        {
            var outcome = Made.Yes;
            while (!_disposed && _ready.Count < Target && (outcome = MakeBatch()) == Made.Yes) { }
            // A failure (a full or briefly unavailable disk) is retried with a growing pause while
            // takes keep coming, so the supply recovers without waiting for the next take.
            bool failed = outcome == Made.Failed;
            retry = failed ? TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, MaxRetry.Ticks)) : MinRetry;
            if (_wake.Wait(failed ? retry : _idleExit)) continue;
            if (failed && Environment.TickCount64 - Volatile.Read(ref _lastAskedMs) < _idleExit.TotalMilliseconds) continue;
            lock (_start)
            {
                if (_wake.CurrentCount > 0 || _disposed) continue;
                _worker = null; // idle: the ready files stay for the next take
                return;
            }
        }
        DeleteReady();
    }

    private static readonly TimeSpan MinRetry = TimeSpan.FromMilliseconds(10), MaxRetry = TimeSpan.FromSeconds(1);

    private enum Made { Yes, Failed, SessionGone }

    private void DeleteReady()
    {
        while (_ready.TryDequeue(out var spare)) SessionSpool.TryDelete(spare);
    }

    /// <summary>
    /// Makes up to a batch of spares in the next bucket and offers them together. A missing session
    /// directory is not made again (a discarded session).
    /// </summary>
    private Made MakeBatch()
    {
        var made = new List<string>(BatchSize);
        try
        {
            if (!Directory.Exists(_directory))
            {
                if (!Directory.Exists(Path.GetDirectoryName(_directory))) return Made.SessionGone;
                StagingFiles.CreateDirectory(_directory);
            }
            var bucket = Path.Combine(_directory, (_batches++ % Buckets).ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!RealDirectory(bucket))
            {
                if (File.Exists(bucket) || IsLink(bucket)) throw new IOException($"{bucket} is not a directory");
                StagingFiles.CreateDirectory(bucket);
            }
            for (int n = Math.Min(BatchSize, Target - _ready.Count); made.Count < n && !_disposed;)
            {
                var path = Path.Combine(bucket, Prefix + Interlocked.Increment(ref _next).ToString(System.Globalization.CultureInfo.InvariantCulture));
                using (StagingFiles.OpenPrivate(path, FileMode.CreateNew, FileAccess.Write)) { }
                made.Add(path);
            }
            return Offer(made) ? Made.Yes : Made.SessionGone;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _lastFailure = e.Message;
            Offer(made);
            return Made.Failed;
        }
    }

    /// <summary>Offers what a batch made; after a dispose they are deleted instead.</summary>
    private bool Offer(List<string> made)
    {
        if (_disposed)
        {
            foreach (var path in made) SessionSpool.TryDelete(path);
            return false;
        }
        foreach (var path in made) _ready.Enqueue(path);
        return true;
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    private static bool RealDirectory(string path) => Directory.Exists(path) && !IsLink(path);

    private void DeleteLeftovers()
    {
        try
        {
            if (!RealDirectory(_directory)) return;
            foreach (var file in Directory.EnumerateFiles(_directory, Prefix + "*")) SessionSpool.TryDelete(file); // an earlier layout
            for (int b = 0; b < Buckets; b++)
            {
                var bucket = Path.Combine(_directory, b.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (!RealDirectory(bucket)) continue;
                foreach (var file in Directory.EnumerateFiles(bucket, Prefix + "*")) SessionSpool.TryDelete(file);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Stops the worker (waiting briefly for it) and deletes the files still ready.</summary>
    public void Dispose()
    {
        _disposed = true;
        _wake.Release();
        Thread? worker;
        lock (_start) worker = _worker;
        worker?.Join(TimeSpan.FromSeconds(5));
        DeleteReady();
    }
}
