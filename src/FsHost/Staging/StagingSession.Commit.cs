using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Writing;

namespace BackupFs.FsHost.Staging;

/// <summary>Cutting a snapshot from the session, and starting over from it.</summary>
public sealed partial class StagingSession
{
    private readonly SemaphoreSlim _commitLock = new(1, 1);

    /// <summary>The last commit's snapshot.</summary>
    public SnapshotRef? LastCommitted { get; private set; }
    /// <summary>The last commit's error message (null after a success).</summary>
    public string? LastError { get; private set; }
    /// <summary>When the last automatic commit failed (TickCount64), to pace retries.</summary>
    public long LastFailure { get; private set; }

    /// <summary>
    /// Writes the session as the group's next snapshot (split pxar, unchanged files reuse their
    /// payload chunks). The tree is frozen under the gate, then chunked and uploaded without it,
    /// so lookups and changes go on meanwhile. When nothing changed during the commit the new
    /// snapshot becomes the session's base; otherwise the session keeps its journal (the next
    /// commit writes the later changes too). Without <paramref name="force"/> an unchanged
    /// session commits nothing and returns null. Fails with EBUSY (a <see cref="StagingException"/>
    /// carrying the message shown on the session) while a file is open for writing. On failure
    /// the session stays as it was.
    /// </summary>
    /// <param name="closing">the mount is ending: no write can arrive any more, so files the kernel never released do not block</param>
    /// <param name="published">called once the snapshot is complete and the session shows it, before the
    /// session restarts from it (the rebase, which holds the session's gate and this commit's lock until
    /// it ends): a caller can answer its client then, and anything the client does next waits for the gate
    /// as a request arriving during the rebase always did</param>
    public async Task<SplitCommitResult?> CommitAsync(bool force, CancellationToken ct, bool closing = false, Action<SplitCommitResult>? published = null)
    {
        await _commitLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            FrozenTree view;
            long changesAtFreeze;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            // Files still waiting to be prepared in the background are cut now, once, not by the commit too.
            if ((Dirty || force) && (OpenWriters == 0 || closing)) await _ctx.Preparer.DrainAsync(ct).ConfigureAwait(false);
            var drained = clock.Elapsed;
            using (await EnterAsync(ct).ConfigureAwait(false))
            {
                if (!force && !Dirty) return null;
                if (OpenWriters > 0 && !closing)
                {
                    LastError = $"{OpenWriters} file(s) in staging/{Group.RelativePath} are still open for writing";
                    throw new StagingException(Vfs.Errno.EBUSY, LastError);
                }
                // Written before the attempt: if the process dies during it, the next mount sees the
                // marker and does not try again by itself (no crash loop); rewritten with the error.
                WriteErrorMarker("the last commit did not finish (the process ended during it)");
                _journal.Flush();
                view = FrozenTree.Freeze(_tree);
                _spool.Pin(view.SpoolFiles);
                changesAtFreeze = Interlocked.Read(ref _changes);
            }
            SplitCommitResult result;
            try
            {
                await _ctx.Store.EnsureNamespaceAsync(Group.Namespace, ct).ConfigureAwait(false);
                await view.ReadRootMetadataAsync(ct).ConfigureAwait(false);
                result = await SplitSnapshotCommit.CommitAsync(_ctx.Store, Group, view, _ctx.Chunks, _ctx.Options.CommitOptions(), ct).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                using (await EnterAsync(CancellationToken.None).ConfigureAwait(false)) _spool.Unpin();
                LastError = e is OperationCanceledException ? "the commit was cancelled" : e.Message;
                LastFailure = Environment.TickCount64;
                FailedAtChange = LastChange;
                FailedCommits++;
                WriteErrorMarker(LastError);
                throw;
            }
            var written = clock.Elapsed;
            using (await EnterAsync(CancellationToken.None).ConfigureAwait(false))
            {
                _spool.Unpin();
                LastCommitted = result.Snapshot;
                LastResult = result;
                LastError = null;
                FailedCommits = 0;
                SessionSpool.TryDelete(ErrorMarkerPath);
                LastTimings = new CommitTimings(drained, written - drained, Rebase: null);
                published?.Invoke(result);
                if (Interlocked.Read(ref _changes) != changesAtFreeze || OpenWriters > 0)
                    _ctx.Log($"backupfs: staging {Group}: committed {result.Snapshot}; changes made during the commit stay staged for the next one");
                else
                {
                    // If the mount ends before the rebase does, the next one starts from the snapshot.
                    _journal.MarkCommitted(result.Snapshot.BackupTime, Timestamps.Nanoseconds(Vfs.Timestamp.Now));
                    try { await RebaseAsync(result.Snapshot, ct).ConfigureAwait(false); }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // The snapshot is complete; the session keeps its journal and would commit the same tree again.
                        _ctx.Log($"backupfs: staging {Group}: committed {result.Snapshot} but could not restart the session from it: {e.Message}");
                    }
                }
            }
            LastTimings = new CommitTimings(drained, written - drained, clock.Elapsed - written);
            return result;
        }
        finally { _commitLock.Release(); }
    }

    /// <summary>Consecutive failed commits (0 after a success); the area backs off automatic attempts by it.</summary>
    public int FailedCommits { get; private set; }
    /// <summary><see cref="LastChange"/> when the last commit failed: an automatic retry waits for a newer change.</summary>
    public long FailedAtChange { get; private set; }
    /// <summary>True while the last commit failed and nothing changed since: only an explicit commit tries again.</summary>
    public bool HeldAfterFailure => FailedCommits > 0 && LastChange == FailedAtChange;

    /// <summary>&lt;state&gt;/commit-error: the last commit's failure, kept across mounts (private, 0600).</summary>
    private string ErrorMarkerPath => Path.Combine(StateDirectory, "commit-error");

    private void WriteErrorMarker(string message)
    {
        try
        {
            StagingFiles.CreateDirectory(StateDirectory);
            using var f = StagingFiles.OpenPrivate(ErrorMarkerPath + ".new", FileMode.Create, FileAccess.Write);
            f.Write(System.Text.Encoding.UTF8.GetBytes(message));
            f.Dispose();
            File.Move(ErrorMarkerPath + ".new", ErrorMarkerPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _ctx.Log($"backupfs: staging {Group}: cannot record the commit state in {ErrorMarkerPath}: {e.Message}");
        }
    }

    /// <summary>At open: a failure recorded by an earlier mount holds automatic commits until a change or an explicit commit.</summary>
    private void LoadErrorMarker()
    {
        string text;
        try
        {
            if (!File.Exists(ErrorMarkerPath)) return;
            text = File.ReadAllText(ErrorMarkerPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { text = e.Message; }
        LastError = text.Length > 4096 ? text[..4096] : text;
        FailedCommits = 1;
        FailedAtChange = LastChange;
        LastFailure = Environment.TickCount64;
        _ctx.Log($"backupfs: staging {Group}: the last commit failed ({LastError}); not retried until something changes or `backupfs commit` asks");
    }

    /// <summary>Shows a problem on the session directory (user.backupfs.error) without holding commits.</summary>
    internal void ReportError(string message) => LastError = message;

    /// <summary>What the last commit did (for `backupfs commit` and tests).</summary>
    public SplitCommitResult? LastResult { get; private set; }
    /// <summary>Where the last successful commit spent its time (its rebase null while that still runs).</summary>
    public CommitTimings? LastTimings { get; private set; }

    /// <summary>Returns once no commit of this session runs (a rebase after an early answer included).</summary>
    public async Task WaitForCommitAsync()
    {
        await _commitLock.WaitAsync().ConfigureAwait(false);
        _commitLock.Release();
    }

    /// <summary>
    /// After a commit of exactly the tree in memory: each known inode is pointed at its entry in
    /// the new snapshot (spooled content is dropped), and the journal starts empty on the new base.
    /// </summary>
    private async Task RebaseAsync(SnapshotRef snapshot, CancellationToken ct)
    {
        var reader = SnapshotReader.Open(_ctx.Store, snapshot, _ctx.Chunks, _ctx.Options.Keys, _ctx.Options.ChunkSources);
        var accessor = await PxarArchiveOpener.OpenAsync(reader, _ctx.Chunks, SplitSnapshotCommit.ArchiveName + ".pxar", ct).ConfigureAwait(false);
        var files = new Dictionary<long, StagedInode>();
        Root.BaseEntry = accessor.Root;
        await RemapAsync(accessor, Root, files, ct).ConfigureAwait(false);

        _base = snapshot;
        _tree.Rebased(accessor, files);
        _journal.Restart(snapshot.BackupTime);
        // Open handles keep reading their spool files after the unlink.
        _spool.DropAll();
    }

    /// <summary>Points every listed directory's children at their new entries; its own stack, so depth never grows the thread's.</summary>
    private static async Task RemapAsync(PxarAccessor accessor, StagedInode root, Dictionary<long, StagedInode> files, CancellationToken ct)
    {
        var pending = new Stack<StagedInode>();
        pending.Push(root);
        while (pending.TryPop(out var dir))
        {
            if (dir.Children is not { } children) continue; // listed from the new base when first used
            var entries = await accessor.ListDirectoryAsync(dir.BaseEntry!, ct).ConfigureAwait(false);
            var byName = new Dictionary<string, PxarEntry>(entries.Count, StringComparer.Ordinal);
            foreach (var e in entries) byName[StagedInode.Key(e.Name)] = e;
            foreach (var (key, child) in children)
            {
                if (!byName.TryGetValue(key, out var entry))
                    throw new FormatCorruptException($"the committed archive has no entry '{System.Text.Encoding.UTF8.GetString(StagedInode.NameOf(key))}'");
                if (entry.Kind == PxarEntryKind.Hardlink) entry = await accessor.FollowHardlinkAsync(entry, ct).ConfigureAwait(false);
                child.BaseEntry = entry;
                child.SpoolPath = null;
                if (child.IsRegular && child.LinkCount > 1) files[entry.Identity] = child;
                if (child.IsDirectory) pending.Push(child);
            }
        }
    }

    /// <summary>Closes the journal and deletes the state directory (journal, spool files, markers).</summary>
    private void DeleteState()
    {
        _journal.Close();
        _spool.QuiesceBeforeDelete();
        // Never through a symlink: the state directory is deleted relative to the store root, component by component.
        Datastore.Platform.SafeDelete.Tree(_ctx.Store.Root, Path.GetRelativePath(_ctx.Store.Root, StateDirectory));
    }

    /// <summary>Drops every uncommitted change: the session is the base again and its state directory goes.</summary>
    /// <returns>EBUSY while files are open for writing</returns>
    public async Task<Vfs.Errno> DiscardAsync(CancellationToken ct)
    {
        await _commitLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var _ = await EnterAsync(ct).ConfigureAwait(false);
            if (OpenWriters > 0) return Vfs.Errno.EBUSY;
            DeleteState();
            FailedCommits = 0;
            LastError = null;
            await SetBaseAsync(_ctx.Store.LatestSnapshot(Group), ct).ConfigureAwait(false);
            return Vfs.Errno.Ok;
        }
        finally { _commitLock.Release(); }
    }
}

/// <summary>A commit's phases: waiting for background preparation, writing the snapshot (freeze, archives, manifest), restarting the session on it (null while it runs).</summary>
public sealed record CommitTimings(TimeSpan Drain, TimeSpan Write, TimeSpan? Rebase);
