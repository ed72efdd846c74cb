using BackupFs.Datastore.Writing;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// Commits in the background: staged files are cut into payload chunks and stored once closed and
/// quiet (<see cref="StagingOptions.PrepareAfter"/>), while the copy into staging goes on; the
/// commit then appends their chunks by digest (<see cref="PreparedPayload"/>) instead of reading
/// them again. A file of at least <see cref="StagingOptions.PrepareFilesFrom"/> is a run of its
/// own; smaller files are cut together, as consecutive runs of their directory in archive order,
/// once nothing in that directory is open for writing, so they share chunks as in a commit.
/// </summary>
/// <remarks>
/// Nothing here is state a crash could lose: results live only in memory, tied to the content
/// version each file was cut from (any later write, truncation or new spool file drops it), and
/// their chunks are plain chunks of the store (touched again before a commit references them;
/// chunks of files changed since are left to garbage collection). Failures only cost the commit
/// the work. One worker while it keeps pace, so the copy into staging keeps the other core; a
/// second one while big files wait behind each other (<see cref="RunAsync"/>).
/// </remarks>
internal sealed class PayloadPreparer : IAsyncDisposable
{
    private readonly StagingContext _ctx;
    private readonly Queue<Item> _queue = new();
    private readonly Dictionary<StagedInode, long> _directoryDue = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<StagedInode> _waiting = new(ReferenceEqualityComparer.Instance); // big files whose re-cut waits (EnqueueLater)
    private readonly HashSet<(StagedInode, long)> _cutting = new(); // big files being cut, at their content version
    private readonly Lock _sync = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(long Sequence, TaskCompletionSource Done)> _drains = new();
    private readonly Task _worker;
    private readonly SortedSet<long> _running = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, Task> _tasks = new();
    private long _scheduled, _dequeuedThrough, _hurryThrough;
    private long _preparedFiles, _preparedBytes, _lastFailureLog;
    private readonly SpoolPageRelease? _pageRelease;

    /// <summary>A big file at a content version, or a directory (Version -1) whose small files are cut once it is quiet.</summary>
    private sealed record Item(long Sequence, StagedInode Inode, long Version, long Due);

    public PayloadPreparer(StagingContext ctx)
    {
        _ctx = ctx;
        if (ctx.Options.ReleaseSpoolPages) _pageRelease = new SpoolPageRelease();
        _worker = Task.Run(RunAsync);
    }

    /// <summary>Items being cut now (for tests).</summary>
    internal int Running { get { lock (_sync) return _running.Count; } }

    /// <summary>Files and content bytes prepared so far (for stats and tests).</summary>
    public (long Files, long Bytes) Prepared => (Interlocked.Read(ref _preparedFiles), Interlocked.Read(ref _preparedBytes));

    private static readonly TimeSpan LongestRecutWait = TimeSpan.FromSeconds(10);

    /// <summary>How long a big file closed now waits before it is queued: 0 at first, then 4x <see cref="StagingOptions.PrepareAfter"/> for each earlier preparation of it, up to 10 s.</summary>
    private TimeSpan RecutWait(StagedInode inode)
    {
        int cuts = inode.PreparedCount;
        if (cuts == 0) return TimeSpan.Zero;
        double ms = _ctx.Options.PrepareAfter.TotalMilliseconds * Math.Pow(4, Math.Min(cuts, 8));
        return TimeSpan.FromMilliseconds(Math.Min(ms, LongestRecutWait.TotalMilliseconds));
    }

    /// <summary>How long a due item waits for the one running before a second worker takes it.</summary>
    private const long BehindAfterMs = 50;

    private long FileDue => Environment.TickCount64 + (long)_ctx.Options.PrepareAfter.TotalMilliseconds;
    private long Quiet => Environment.TickCount64 + (long)_ctx.Options.PrepareDirectoriesAfter.TotalMilliseconds;

    /// <summary>Queues a big file at its content version (an item whose version is outdated by then does nothing).</summary>
    private void Enqueue(StagedInode inode, long version)
    {
        lock (_sync)
        {
            if (_stop.IsCancellationRequested) return;
            _queue.Enqueue(new Item(++_scheduled, inode, version, FileDue));
        }
        _signal.Release();
    }

    /// <summary>
    /// A big file changed again after it was cut is queued only after its <see cref="RecutWait"/>, so
    /// the queue's order stays the order its items are due in (a commit meanwhile encodes the file
    /// itself). One timer per file: closes while it runs add nothing, and it queues the content
    /// version of its end.
    /// </summary>
    private void EnqueueLater(StagedInode inode, TimeSpan wait)
    {
        lock (_sync)
            if (!_waiting.Add(inode)) return;
        _ = Task.Delay(wait, _stop.Token).ContinueWith(_ =>
        {
            lock (_sync) _waiting.Remove(inode);
            Enqueue(inode, inode.ContentVersion);
        }, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    /// <summary>A file was closed after writing: prepare it (or its directory's small files) when it stays quiet.</summary>
    public void FileClosed(StagedInode inode)
    {
        if (!inode.IsRegular || inode.SpoolPath is null || _ctx.Options.PrepareFilesFrom == long.MaxValue || _stop.IsCancellationRequested) return;
        if (inode.Size >= _ctx.Options.PrepareFilesFrom)
        {
            if (RecutWait(inode) is { Ticks: > 0 } wait) EnqueueLater(inode, wait);
            else Enqueue(inode, inode.ContentVersion);
            return;
        }
        lock (_sync)
        {
            if (inode.FirstLink?.Parent is { } dir)
            {
                // One queued item per directory; each close pushes its quiet period out.
                bool queued = _directoryDue.ContainsKey(dir);
                _directoryDue[dir] = Quiet;
                if (queued) return;
                _queue.Enqueue(new Item(++_scheduled, dir, -1, Quiet));
            }
            else return;
        }
        _signal.Release();
    }

    /// <summary>
    /// A commit is about to freeze its tree: everything scheduled so far is prepared now (quiet
    /// periods skipped) and this returns when it is done, so the commit does not cut the same files.
    /// </summary>
    public Task DrainAsync(CancellationToken ct)
    {
        TaskCompletionSource done;
        lock (_sync)
        {
            if ((_queue.Count == 0 && _running.Count == 0) || _stop.IsCancellationRequested) return Task.CompletedTask;
            _hurryThrough = _scheduled;
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _drains.Add((_scheduled, done));
        }
        _signal.Release(); // wakes a worker that waits out a quiet period
        return done.Task.WaitAsync(ct);
    }

    /// <summary>
    /// Takes due items off the queue in order: one at a time while the copy runs (it keeps the other
    /// core), one per core for items a waiting commit asked for, and one per core too once the next
    /// item has waited <see cref="BehindAfterMs"/> past its due time: the copy has moved on faster
    /// than one core cuts (rewritten big files in a row), and what is still queued when it ends is
    /// what the commit waits for.
    /// </summary>
    private async Task RunAsync()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            Item? item = null;
            long wait;
            bool hurry = false, took = false;
            lock (_sync)
            {
                var next = _queue.Count > 0 ? _queue.Peek() : null;
                long now = Environment.TickCount64;
                hurry = next is not null && next.Sequence <= _hurryThrough;
                if (next is null || _running.Count >= Environment.ProcessorCount) wait = Timeout.Infinite; // a finishing item signals
                else if (hurry) wait = 0;
                else if (_running.Count == 0) wait = Math.Max(0, next.Due - now);
                else if (next.Version >= 0) wait = Math.Max(0, next.Due + BehindAfterMs - now); // a big file falling behind
                else wait = Timeout.Infinite; // small files keep pace: the running item's end signals
                if (next is not null && wait == 0)
                {
                    _queue.Dequeue();
                    _dequeuedThrough = next.Sequence;
                    if (next.Version < 0 && !hurry && _directoryDue.GetValueOrDefault(next.Inode) > Environment.TickCount64)
                        Requeue(next, _directoryDue[next.Inode]); // closed into again meanwhile
                    else
                    {
                        if (next.Version < 0) _directoryDue.Remove(next.Inode); // a close from now on queues it anew
                        _running.Add(next.Sequence);
                        item = next;
                    }
                    CompleteDrains();
                    took = true;
                }
            }
            if (item is not null)
            {
                var task = ProcessAsync(item, hurry, ct);
                _tasks[item.Sequence] = task;
                if (task.IsCompleted) _tasks.TryRemove(item.Sequence, out _); // it finished before it was listed
            }
            if (took) continue;
            try { await _signal.WaitAsync((int)Math.Min(wait, int.MaxValue), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
        lock (_sync)
        {
            foreach (var (_, done) in _drains) done.TrySetResult();
            _drains.Clear();
        }
    }

    private async Task ProcessAsync(Item item, bool hurry, CancellationToken ct)
    {
        try
        {
            if (item.Version >= 0) await PrepareFileAsync(item, ct).ConfigureAwait(false);
            else if (!await PrepareDirectoryAsync(item.Inode, hurry, ct).ConfigureAwait(false))
                lock (_sync) Requeue(item, Quiet); // a file in it is open for writing
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ObjectDisposedException)
        {
            // A file deleted or changed while it was read (its next close schedules it anew), or its session ended.
        }
        catch (Exception e)
        {
            // At most one line a minute: a full or unreachable store would otherwise log once per file.
            long now = Environment.TickCount64;
            if (now - Interlocked.Read(ref _lastFailureLog) >= 60_000 || Interlocked.Read(ref _lastFailureLog) == 0)
            {
                Interlocked.Exchange(ref _lastFailureLog, now);
                _ctx.Log($"backupfs: staging: could not prepare files in the background ({e.Message}); the commit reads them instead");
            }
        }
        finally
        {
            lock (_sync)
            {
                _running.Remove(item.Sequence);
                CompleteDrains();
            }
            _tasks.TryRemove(item.Sequence, out _);
            _signal.Release();
        }
    }

    /// <summary>
    /// Under the lock: a directory goes to the back of the queue, due at <paramref name="due"/> (a drain
    /// waiting for its old place does not wait for it). <see cref="_directoryDue"/> holds exactly the
    /// directories with an item in the queue.
    /// </summary>
    private void Requeue(Item item, long due)
    {
        if (_directoryDue.ContainsKey(item.Inode) && _queue.Any(q => ReferenceEquals(q.Inode, item.Inode)))
        {
            _directoryDue[item.Inode] = Math.Max(_directoryDue[item.Inode], due); // a close queued it anew meanwhile
            return;
        }
        _directoryDue[item.Inode] = due;
        _queue.Enqueue(item with { Sequence = ++_scheduled, Due = due });
    }

    /// <summary>Under the lock: ends the drains whose items are all done (dequeued and not running).</summary>
    private void CompleteDrains()
    {
        long through = _running.Count == 0 ? _dequeuedThrough : _running.Min - 1;
        for (int i = _drains.Count - 1; i >= 0; i--)
        {
            if (_drains[i].Sequence > through) continue;
            _drains[i].Done.TrySetResult();
            _drains.RemoveAt(i);
        }
    }

    private ChunkIngest NewIngest() => _ctx.Options.CommitOptions().CreateIngest(_ctx.Store, maxInFlight: 2);

    private async Task PrepareFileAsync(Item item, CancellationToken ct)
    {
        var inode = item.Inode;
        var (spool, size, version, writers) = inode.ContentState();
        // Changed again or open for writing: its next close schedules it anew.
        if (version != item.Version || writers > 0 || spool is null || inode.PreparedPayload is not null) return;
        // Two closes with no write between queue the same version twice; with two workers both could run.
        lock (_sync) if (!_cutting.Add((inode, version))) return;
        try
        {
            PreparedPayload prepared;
            await using (var file = OpenSpool(spool)) prepared = await PreparedPayload.PrepareAsync(file, size, NewIngest(), ct: ct).ConfigureAwait(false);
            if (Keep(inode, prepared, version)) _pageRelease?.Release(spool);
        }
        finally { lock (_sync) _cutting.Remove((inode, version)); }
    }

    /// <summary>
    /// Cuts each run of consecutive small staged files of the directory (archive order) that are not
    /// prepared yet; false (nothing done) while one of its files is open for writing, unless in a hurry.
    /// </summary>
    private async Task<bool> PrepareDirectoryAsync(StagedInode dir, bool hurry, CancellationToken ct)
    {
        if (dir.Session is not { } session || await session.FilesInArchiveOrderAsync(dir, ct).ConfigureAwait(false) is not { } children) return true;
        if (!hurry && children.Any(static c => c.OpenWriters > 0)) return false;
        var run = new List<(StagedInode Inode, string Spool, long Size, long Version)>();
        foreach (var child in children)
        {
            var (spool, size, version, writers) = child.ContentState();
            bool member = child.IsRegular && spool is not null && writers == 0 && size < _ctx.Options.PrepareFilesFrom
                && child.LinkCount == 1 && child.PreparedPayload is null;
            if (member) run.Add((child, spool!, size, version));
            // Anything else (a directory, a file of the base, a big, hardlinked or prepared file) comes between: the run ends.
            else if (run.Count > 0) await PrepareRunAsync(run, ct).ConfigureAwait(false);
        }
        if (run.Count > 0) await PrepareRunAsync(run, ct).ConfigureAwait(false);
        return true;
    }

    private async Task PrepareRunAsync(List<(StagedInode Inode, string Spool, long Size, long Version)> run, CancellationToken ct)
    {
        var files = run.ToArray();
        run.Clear();
        var items = await PreparedPayload.PrepareRunAsync(files.Select(f => f.Size).ToArray(),
            (i, _) => ValueTask.FromResult<Stream>(OpenSpool(files[i].Spool)), NewIngest(), ct: ct).ConfigureAwait(false);
        for (int i = 0; i < files.Length; i++)
            if (Keep(files[i].Inode, items[i], files[i].Version)) _pageRelease?.Release(files[i].Spool);
    }

    private static FileStream OpenSpool(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);

    /// <summary>Keeps what was cut unless the file changed meanwhile (false).</summary>
    private bool Keep(StagedInode inode, PreparedPayload prepared, long version)
    {
        if (!inode.SetPreparedPayload(prepared, version)) return false;
        Interlocked.Increment(ref _preparedFiles);
        Interlocked.Add(ref _preparedBytes, prepared.ContentSize);
        return true;
    }

    /// <summary>Spool files whose pages were given back after they were cut (for tests).</summary>
    public long SpoolFilesReleased => _pageRelease?.Released ?? 0;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _worker.ConfigureAwait(false); } catch (OperationCanceledException) { }
        // Items still running end at their next read or store (they watch the same token).
        await Task.WhenAll(_tasks.Values).ConfigureAwait(false);
        _pageRelease?.Dispose();
    }
}
