using System.Collections.Concurrent;
using BackupFs.Datastore.Platform;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// Empty spool files made ahead of need by a background thread at low CPU priority, each at the
/// spool path of an inode number reserved for it, so that a staged create only takes a number:
/// no inode allocated and no rename while the kernel waits. Allocating is the costly part of a
/// create on some filesystems (ext4 without a journal skips every inode freed in the last minute:
/// ~250-650 µs per file here after thousands were deleted), and the rename that earlier moved a
/// spare into place took a CREATE from ~60 to ~100 µs (median, as the kernel timed it). When none
/// is ready the caller creates its file itself, so a stalled or failing supply only costs that.
/// A number whose path is taken already (a file left by an earlier process: its number was
/// reserved but never journaled) is skipped, never truncated nor followed; a discarded spool
/// directory (<see cref="Forget"/>) takes the ready files with it.
/// </summary>
internal sealed class SpareSpoolFiles : IDisposable
{
    /// <summary>Files kept ready, and the level below which the worker tops them up.</summary>
    public const int Target = 256, RefillBelow = 192;
    /// <summary>Files made before they are offered together.</summary>
    private const int BatchSize = 32;

    private readonly string _directory;
    private readonly Func<ulong> _reserve;
    private readonly Func<ulong, string> _pathFor;
    private readonly ConcurrentQueue<ulong> _ready = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Lock _start = new(), _offer = new();
    private Thread? _worker;
    private volatile bool _disposed;
    private long _epoch; // a Forget starts a new one: batches made before it are not offered
    private long _lastAskedMs; // Environment.TickCount64 of the latest take
    private volatile string? _lastFailure;

    /// <summary>A worker with nothing asked of it for this long ends (a session left idle holds no thread); the next take starts one.</summary>
    private readonly TimeSpan _idleExit;

    /// <param name="directory">where the files are made (the spool directory)</param>
    /// <param name="reserve">a new inode number (thread-safe)</param>
    /// <param name="pathFor">the spool path of a number, in <paramref name="directory"/></param>
    public SpareSpoolFiles(string directory, Func<ulong> reserve, Func<ulong, string> pathFor, TimeSpan? idleExit = null)
    {
        _directory = directory;
        _reserve = reserve;
        _pathFor = pathFor;
        _idleExit = idleExit ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>Whether a worker thread exists now (for tests).</summary>
    internal bool Running { get { lock (_start) return _worker is not null; } }

    /// <summary>Files ready now (for tests).</summary>
    public int Ready => _ready.Count;

    /// <summary>Why the latest attempt to make a spare failed, if one did (for diagnostics).</summary>
    public string? LastFailure => _lastFailure;

    /// <summary>A reserved number whose empty spool file exists; false when none is ready.</summary>
    public bool TryTake(out ulong number)
    {
        Asked();
        bool taken = false;
        number = 0;
        while (!taken && _ready.TryDequeue(out number)) taken = File.Exists(_pathFor(number)); // gone with a discarded directory: the next
        if (!taken) number = 0;
        Refill();
        return taken;
    }

    /// <summary>Moves a ready empty file to <paramref name="path"/> in the same directory (replacing a leftover there); false when none is ready.</summary>
    public bool TryTakeInto(string path)
    {
        Asked();
        bool taken = false;
        while (!taken && _ready.TryDequeue(out var number))
        {
            try
            {
                File.Move(_pathFor(number), path, overwrite: true); // rename(2) within the directory
                taken = true;
            }
            catch (FileNotFoundException) { } // gone with its directory (a discard): try the next
            catch (DirectoryNotFoundException) { }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                SessionSpool.TryDelete(_pathFor(number)); // taken from the queue: nobody else would delete it
                break;
            }
        }
        Refill();
        return taken;
    }

    /// <summary>
    /// The directory's files are gone (renamed aside or deleted): the ready numbers are dropped, and
    /// a batch under way is deleted, not offered. Nothing is made again until the next take (a
    /// commit that ends a copy is not followed by files made for nobody).
    /// </summary>
    public void Forget()
    {
        lock (_offer)
        {
            _epoch++;
            _ready.Clear();
        }
        while (_wake.Wait(0)) { } // refills asked for before: the next take asks again
    }

    private void Asked()
    {
        Volatile.Write(ref _lastAskedMs, Environment.TickCount64);
        StartOnce();
    }

    private void Refill()
    {
        if (_ready.Count < RefillBelow) _wake.Release();
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

    private enum Made { Yes, Failed, SessionGone, Forgotten }

    private void DeleteReady()
    {
        while (_ready.TryDequeue(out var number)) SessionSpool.TryDelete(_pathFor(number));
    }

    /// <summary>
    /// Makes up to a batch of files and offers them together. A missing session directory is not
    /// made again (a discarded session).
    /// </summary>
    private Made MakeBatch()
    {
        long epoch = Interlocked.Read(ref _epoch);
        var made = new List<ulong>(BatchSize);
        try
        {
            if (!Directory.Exists(_directory))
            {
                if (!Directory.Exists(Path.GetDirectoryName(_directory))) return Made.SessionGone;
                StagingFiles.CreateDirectory(_directory);
            }
            for (int n = Math.Min(BatchSize, Target - _ready.Count); made.Count < n && !_disposed;)
            {
                ulong number = _reserve();
                var path = _pathFor(number);
                try
                {
                    if (!SessionSpool.CreateIfFree(path)) continue; // a leftover: this number is not used
                }
                catch (IOException) when (epoch != Interlocked.Read(ref _epoch)) { break; } // the directory went meanwhile
                made.Add(number);
            }
            return Offer(made, epoch);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _lastFailure = e.Message;
            Offer(made, epoch);
            return Made.Failed;
        }
    }

    /// <summary>
    /// Offers what a batch made. After a dispose or a <see cref="Forget"/> they are deleted instead
    /// (those made before the directory went are gone already; the numbers are nobody's), and the
    /// worker stops making until it is asked again.
    /// </summary>
    private Made Offer(List<ulong> made, long epoch)
    {
        lock (_offer)
        {
            if (!_disposed && epoch == _epoch)
            {
                foreach (var number in made) _ready.Enqueue(number);
                return Made.Yes;
            }
        }
        foreach (var number in made) SessionSpool.TryDelete(_pathFor(number));
        return _disposed ? Made.SessionGone : Made.Forgotten;
    }

    /// <summary>Stops the worker (waiting briefly for it) and deletes the files still ready.</summary>
    public void Dispose()
    {
        lock (_offer) _disposed = true;
        _wake.Release();
        Thread? worker;
        lock (_start) worker = _worker;
        worker?.Join(TimeSpan.FromSeconds(5));
        DeleteReady();
    }
}
