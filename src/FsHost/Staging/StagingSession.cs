// Locking rule of a staging session (one rule, three locks always taken in this order):
//   commit lock  ->  session gate  ->  an inode's own lock.
// - The session gate (an async semaphore) is held by every operation that reads or changes the
//   session's tree, journal or spool: lookups, listings, each change, open/release, the freeze
//   of a commit. Directory children and xattr lists are only touched under it.
// - An inode's own lock guards its scalar state and its names; StagedInode's members take it
//   for one short step (never across an await, never while taking another lock), so attributes
//   can be read without the gate (getattr) and data writes (which do not take the gate) can
//   grow the size and move the times.
// - The commit lock lets one commit or discard run at a time. A commit takes the gate only to
//   freeze the tree and to finish: it chunks and uploads from the frozen view without it.
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// One group's staging session: a copy-on-write view of the group's latest snapshot (the base)
/// that takes every change a filesystem user makes, journals it with the written data spooled to
/// disk (so a crash loses nothing), and commits the result as the group's next snapshot. The
/// parts: <see cref="SessionTree"/> (inodes and how each change applies), <see cref="SessionJournal"/>
/// (records and replay), <see cref="SessionSpool"/> (file content) and <see cref="FrozenTree"/>
/// (what a commit writes). Routine refusals come back as errnos; exceptions mean the unexpected.
/// </summary>
public sealed partial class StagingSession : IDisposable
{
    public const ulong RootNumber = SessionTree.RootNumber;
    private readonly StagingContext _ctx;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SessionTree _tree;
    private readonly SessionJournal _journal;
    private readonly SessionSpool _spool;
    private SnapshotRef? _base;
    private long _lastChange = Environment.TickCount64;
    private long _changes;
    private int _openWriters;

    private StagingSession(StagingContext ctx, BackupGroup group, StagedLink link)
    {
        _ctx = ctx;
        Group = group;
        StateDirectory = StagingPath.SessionDirectory(ctx.Store, group);
        Root = new StagedInode(this, StagedRole.SessionRoot, RootNumber, FileModes.Directory | 0x1ED /* 0755 */);
        Root.AddLink(link);
        _tree = new SessionTree(this, Root);
        _spool = new SessionSpool(Path.Combine(StateDirectory, "spool"), ctx.Store.Root, _tree.AllocateNumber);
        _journal = new SessionJournal(StateDirectory, _spool) { Changed = MarkChanged };
    }

    public BackupGroup Group { get; }
    public StagedInode Root { get; }
    /// <summary>&lt;store&gt;/.backupfs/staging/&lt;group&gt;: journal and spool files.</summary>
    public string StateDirectory { get; }
    public string SpoolDirectory => _spool.Directory;
    /// <summary>The snapshot this session started from (null: an empty start).</summary>
    public SnapshotRef? Base => _base;
    /// <summary>True when something changed since the base.</summary>
    public bool Dirty => _journal.Records > 0;
    public int OpenWriters => Volatile.Read(ref _openWriters);
    /// <summary>Milliseconds (Environment.TickCount64) of the last change.</summary>
    public long LastChange => Interlocked.Read(ref _lastChange);

    /// <summary>Starts a session on the group's latest snapshot, or resumes the one journaled in its state directory.</summary>
    public static async Task<StagingSession> OpenAsync(StagingContext ctx, BackupGroup group, StagedLink link, CancellationToken ct)
    {
        var session = new StagingSession(ctx, group, link);
        var journalPath = Path.Combine(session.StateDirectory, StagingJournal.FileName);
        if (File.Exists(journalPath))
        {
            var (journal, baseTime, records) = StagingJournal.Open(session.StateDirectory, ctx.Log);
            if (SessionJournal.CommittedAtEnd(records) is { } committed && new SnapshotRef(group, committed) is var snapshot && ctx.Store.IsFinished(snapshot))
            {
                journal.Dispose();
                ctx.Log($"backupfs: staging {group}: every journaled change is in {snapshot} (the mount ended before the session restarted from it); starting from it");
                await session.SetBaseAsync(snapshot, ct).ConfigureAwait(false); // first: if it cannot be read, the state is kept
                session.DeleteState();
                return session;
            }
            try
            {
                await session.SetBaseAsync(baseTime is { } t ? new SnapshotRef(group, t) : null, ct).ConfigureAwait(false);
                session._journal.Resume(journal);
                await session._journal.ReplayAsync(session._tree, records, ct).ConfigureAwait(false);
                if (records.Count > 0) ctx.Log($"backupfs: staging {group}: resumed {records.Count} journaled changes");
            }
            catch
            {
                journal.Dispose();
                throw;
            }
        }
        else await session.SetBaseAsync(ctx.Store.LatestSnapshot(group), ct).ConfigureAwait(false);
        session.LoadErrorMarker();
        return session;
    }

    /// <summary>Points the session at a base snapshot: its pxar archive becomes the tree's starting point.</summary>
    private async Task SetBaseAsync(SnapshotRef? snapshot, CancellationToken ct)
    {
        _base = snapshot;
        _journal.BaseTime = snapshot?.BackupTime;
        PxarAccessor? accessor = null;
        if (snapshot is not null)
        {
            var reader = SnapshotReader.Open(_ctx.Store, snapshot, _ctx.Chunks, _ctx.Options.Keys, _ctx.Options.ChunkSources);
            var archives = PxarArchiveOpener.ArchiveNames(reader.FileNames).ToList();
            var archive = archives.Contains("root.pxar") ? "root.pxar" : archives.Count == 1 ? archives[0] : null;
            // No file archive (an image backup): start empty.
            if (archive is not null) accessor = await PxarArchiveOpener.OpenAsync(reader, _ctx.Chunks, archive, ct).ConfigureAwait(false);
        }
        _tree.Reset(accessor);
    }

    // ---- the gate ----

    private async ValueTask<Releaser> EnterAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        return new Releaser(_gate);
    }

    private readonly struct Releaser(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    private void MarkChanged()
    {
        Interlocked.Increment(ref _changes);
        Interlocked.Exchange(ref _lastChange, Environment.TickCount64);
    }

    // ---- reading the tree ----

    /// <summary>dir/name; ENOENT when there is no such entry, ENOTDIR when dir is not a directory.</summary>
    public async ValueTask<VfsResult<StagedInode>> LookupAsync(StagedInode dir, byte[] name, CancellationToken ct)
    {
        if (!dir.IsDirectory) return Errno.ENOTDIR;
        if (_tree.CheckMine(dir) is { IsOk: false } other) return other;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        return await _tree.ChildAsync(dir, name, ct).ConfigureAwait(false) is { } child ? child : Errno.ENOENT;
    }

    /// <summary>The directory's entries sorted by name bytes (a stable listing for readdir cookies).</summary>
    public async ValueTask<VfsResult<List<(byte[] Name, StagedInode Inode)>>> ListAsync(StagedInode dir, CancellationToken ct)
    {
        if (!dir.IsDirectory) return Errno.ENOTDIR;
        if (_tree.CheckMine(dir) is { IsOk: false } other) return other;
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = (await _tree.ChildrenAsync(dir, ct).ConfigureAwait(false)).Select(kv => (StagedInode.NameOf(kv.Key), kv.Value)).ToList();
        list.Sort(static (a, b) => a.Item1.AsSpan().SequenceCompareTo(b.Item1));
        return list;
    }

    /// <summary>The inode's xattrs as getxattr shows them (a copy).</summary>
    public async ValueTask<List<(byte[] Name, byte[] Value)>> GetXattrsAsync(StagedInode inode, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        return [.. await _tree.XattrsAsync(inode, ct).ConfigureAwait(false)];
    }

    public void Dispose()
    {
        _spool.Dispose();
        _journal.Close();
    }
}
