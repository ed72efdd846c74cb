using System.Collections.Concurrent;
using BackupFs.Datastore.Platform;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// Gives the page cache of spool files back once the background preparer has cut them
/// (<see cref="StagingOptions.ReleaseSpoolPages"/>): their content is in the chunk store then, and
/// the commit appends it by digest without reading it. The pages are written out and dropped on a
/// thread of their own, so a copy still running writes its next files into the memory just freed
/// instead of growing the page cache (a staged 512 MiB tree grew it by ~260 MiB instead of ~770).
/// The price is the write-out, which a session committed soon after never pays otherwise (its
/// spool files are deleted first). A spool file read again later is read from disk.
/// </summary>
internal sealed class SpoolPageRelease : IDisposable
{
    /// <summary>Files waiting at most; beyond, a file keeps its pages (this is only an optimisation).</summary>
    private const int MaxQueued = 65_536;

    private readonly BlockingCollection<string> _queue = new(new ConcurrentQueue<string>(), MaxQueued);
    private readonly Thread _thread;
    private long _released;
    private volatile bool _stopping;

    public SpoolPageRelease()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "spool page release" };
        _thread.Start();
    }

    /// <summary>Spool files released so far (for tests).</summary>
    public long Released => Interlocked.Read(ref _released);

    /// <summary>Queues a spool file whose pages may go (a file deleted meanwhile is skipped).</summary>
    public void Release(string spoolPath)
    {
        try { _queue.TryAdd(spoolPath); }
        catch (InvalidOperationException) { } // stopped
    }

    private void Run()
    {
        ThreadNiceness.LowerCurrent(5); // the copy into staging goes first
        foreach (var path in _queue.GetConsumingEnumerable())
        {
            if (_stopping) break; // what is still queued keeps its pages: the unmount does not wait for their write-out
            if (PageCacheRelease.WriteBackAndDrop(path)) Interlocked.Increment(ref _released);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _queue.CompleteAdding();
        // Only the file being written out is waited for, and a stalled spool disk not forever.
        if (_thread.Join(TimeSpan.FromSeconds(30))) _queue.Dispose();
    }
}
