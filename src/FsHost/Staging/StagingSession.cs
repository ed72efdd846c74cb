using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// One group's staging session: a copy-on-write view of the group's latest snapshot (the base)
/// that takes every change a filesystem user makes, journals it with the written data spooled to
/// disk (so a crash loses nothing), and commits the result as the group's next snapshot.
/// Directories of the base are listed into memory on first use; file content stays in the base
/// until written. All tree changes run under one gate per session; data reads and writes of open
/// files do not take it.
/// </summary>
public sealed partial class StagingSession : IDisposable
{
    public const ulong RootNumber = 1;
    private readonly StagingContext _ctx;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<long, StagedInode> _baseFiles = new();
    private SnapshotRef? _base;
    private PxarAccessor? _baseAccessor;
    private Task<Dictionary<long, int>>? _baseLinkCounts;
    private StagingJournal? _journal;
    private long _epoch;
    private ulong _nextNumber = RootNumber + 1;
    private long _lastChange = Environment.TickCount64;
    private int _openWriters;

    private StagingSession(StagingContext ctx, BackupGroup group, StagedLink link)
    {
        _ctx = ctx;
        Group = group;
        StateDirectory = StagingPath.SessionDirectory(ctx.Store, group);
        Root = new StagedInode(this, StagedRole.SessionRoot, RootNumber, FileModes.Directory | 0x1ED /* 0755 */);
        Root.Links.Add(link);
    }

    public BackupGroup Group { get; }
    public StagedInode Root { get; }
    /// <summary>&lt;store&gt;/.backupfs/staging/&lt;group&gt;: journal and spool files.</summary>
    public string StateDirectory { get; }
    public string SpoolDirectory => Path.Combine(StateDirectory, "spool");
    /// <summary>The snapshot this session started from (null: an empty start).</summary>
    public SnapshotRef? Base => _base;
    /// <summary>True when something changed since the base.</summary>
    public bool Dirty => _journal is { Records: > 0 };
    public int OpenWriters => Volatile.Read(ref _openWriters);
    /// <summary>Milliseconds (Environment.TickCount64) of the last change.</summary>
    public long LastChange => Interlocked.Read(ref _lastChange);
    /// <summary>The last commit's snapshot, or its error message.</summary>
    public SnapshotRef? LastCommitted { get; private set; }
    public string? LastError { get; private set; }
    /// <summary>When the last automatic commit failed (TickCount64), to pace retries.</summary>
    public long LastFailure { get; private set; }

    /// <summary>Starts a session on the group's latest snapshot, or resumes the one journaled in its state directory.</summary>
    public static async Task<StagingSession> OpenAsync(StagingContext ctx, BackupGroup group, StagedLink link, CancellationToken ct)
    {
        var session = new StagingSession(ctx, group, link);
        var journalPath = Path.Combine(session.StateDirectory, StagingJournal.FileName);
        if (File.Exists(journalPath))
        {
            var (journal, baseTime, records) = StagingJournal.Open(session.StateDirectory, ctx.Log);
            try
            {
                await session.SetBaseAsync(baseTime is { } t ? new SnapshotRef(group, t) : null, ct).ConfigureAwait(false);
                session._journal = journal;
                session._epoch = 1;
                await session.ReplayAsync(records, ct).ConfigureAwait(false);
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
        _base = null;
        _baseAccessor = null;
        _baseLinkCounts = null;
        _baseFiles.Clear();
        Root.BaseEntry = null;
        Root.Children = new(StringComparer.Ordinal);
        var now = Timestamp.Now;
        Root.AccessTime = Root.ModificationTime = Root.ChangeTime = now;
        if (snapshot is null) return;
        var reader = SnapshotReader.Open(_ctx.Store, snapshot, _ctx.Chunks, _ctx.Options.Keys, _ctx.Options.ChunkSources);
        var archives = PxarArchiveOpener.ArchiveNames(reader.FileNames).ToList();
        var archive = archives.Contains("root.pxar") ? "root.pxar" : archives.Count == 1 ? archives[0] : null;
        _base = snapshot;
        if (archive is null) return; // no file archive (an image backup): start empty
        _baseAccessor = await PxarArchiveOpener.OpenAsync(reader, _ctx.Chunks, archive, ct).ConfigureAwait(false);
        var root = _baseAccessor.Root;
        Root.BaseEntry = root;
        Root.Children = null;
        SetFromEntry(Root, root);
    }

    private static void SetFromEntry(StagedInode inode, PxarEntry entry)
    {
        inode.Mode = (uint)(entry.Stat.Mode & 0xFFFF);
        inode.Uid = entry.Stat.Uid;
        inode.Gid = entry.Stat.Gid;
        var mtime = new Timestamp(entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds);
        inode.AccessTime = inode.ModificationTime = inode.ChangeTime = mtime;
        inode.Size = entry.Kind is PxarEntryKind.File or PxarEntryKind.Symlink ? entry.Size : 0;
        inode.SymlinkTarget = entry.Kind == PxarEntryKind.Symlink ? entry.LinkTarget ?? [] : null;
        inode.DeviceMajor = entry.DeviceMajor;
        inode.DeviceMinor = entry.DeviceMinor;
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

    // ---- reading the tree ----

    /// <summary>A directory's children, listing it from the base on first use.</summary>
    private async ValueTask<Dictionary<string, StagedInode>> ChildrenAsync(StagedInode dir, CancellationToken ct)
    {
        if (dir.Children is { } known) return known;
        if (!dir.IsDirectory) throw new StagingException(Errno.ENOTDIR);
        var accessor = _baseAccessor ?? throw new InvalidOperationException("a base directory without a base archive");
        var entries = await accessor.ListDirectoryAsync(dir.BaseEntry!, ct).ConfigureAwait(false);
        var counts = await (_baseLinkCounts ??= Task.Run(() => PxarHardlinkCounter.CountAsync(accessor, CancellationToken.None).AsTask())).ConfigureAwait(false);
        var children = new Dictionary<string, StagedInode>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var inode = await FromBaseAsync(accessor, entry, counts, ct).ConfigureAwait(false);
            inode.Links.Add(new StagedLink(dir, entry.Name));
            children[StagedInode.Key(entry.Name)] = inode;
            if (inode.IsDirectory) dir.Subdirectories++;
        }
        dir.Children = children;
        return children;
    }

    private async ValueTask<StagedInode> FromBaseAsync(PxarAccessor accessor, PxarEntry entry, Dictionary<long, int> counts, CancellationToken ct)
    {
        if (entry.Kind == PxarEntryKind.Hardlink) entry = await accessor.FollowHardlinkAsync(entry, ct).ConfigureAwait(false);
        if (entry.Kind == PxarEntryKind.File && _baseFiles.TryGetValue(entry.Identity, out var shared))
        {
            shared.PendingBaseLinks = Math.Max(0, shared.PendingBaseLinks - 1);
            return shared;
        }
        var inode = new StagedInode(this, StagedRole.Entry, _nextNumber++, 0) { BaseEntry = entry };
        SetFromEntry(inode, entry);
        if (entry.Kind == PxarEntryKind.File && counts.TryGetValue(entry.Identity, out int links) && links > 1)
        {
            inode.PendingBaseLinks = links - 1;
            _baseFiles[entry.Identity] = inode;
        }
        return inode;
    }

    public async ValueTask<StagedInode?> LookupAsync(StagedInode dir, byte[] name, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        return (await ChildrenAsync(dir, ct).ConfigureAwait(false)).GetValueOrDefault(StagedInode.Key(name));
    }

    /// <summary>The directory's entries sorted by name bytes (a stable listing for readdir cookies).</summary>
    public async ValueTask<List<(byte[] Name, StagedInode Inode)>> ListAsync(StagedInode dir, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        var list = (await ChildrenAsync(dir, ct).ConfigureAwait(false)).Select(kv => (StagedInode.NameOf(kv.Key), kv.Value)).ToList();
        list.Sort(static (a, b) => a.Item1.AsSpan().SequenceCompareTo(b.Item1));
        return list;
    }

    /// <summary>The inode's xattrs (loaded from the base entry on first use), as getxattr shows them.</summary>
    private async ValueTask<List<(byte[] Name, byte[] Value)>> XattrsAsync(StagedInode inode, CancellationToken ct)
    {
        if (inode.Xattrs is { } known) return known;
        var list = inode.BaseEntry is { } entry && _baseAccessor is { } accessor
            ? await PxarEntryStat.XattrsAsync(accessor, entry, ct).ConfigureAwait(false)
            : [];
        inode.Xattrs = list;
        return list;
    }

    public async ValueTask<List<(byte[] Name, byte[] Value)>> GetXattrsAsync(StagedInode inode, CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        return [.. await XattrsAsync(inode, ct).ConfigureAwait(false)];
    }

    // ---- journal helpers ----

    private void MarkChanged() => Interlocked.Exchange(ref _lastChange, Environment.TickCount64);

    /// <summary>Starts the journal on the first change (a session nobody changed leaves no trace on disk).</summary>
    private StagingJournal Journal()
    {
        if (_journal is { } j) return j;
        StagingFiles.CreateDirectory(SpoolDirectory);
        _journal = StagingJournal.Create(StateDirectory, _base?.BackupTime);
        _epoch++;
        return _journal;
    }

    private void Append(JournalRecord record)
    {
        Journal().Append(record);
        MarkChanged();
    }

    /// <summary>
    /// The journal number of <paramref name="inode"/>, recording first where a base inode sits
    /// (a Bind record, parents first) so replay can find it. False for an inode with no name left.
    /// </summary>
    private bool TryBind(StagedInode inode, long now, out ulong number)
    {
        number = inode.Number;
        // Climb to the nearest inode already bound (or the session root), then record the ones
        // below it parents first; a loop, not recursion: the depth is the tree's.
        var chain = new List<StagedInode>();
        for (var at = inode; at.Role != StagedRole.SessionRoot && at.BoundEpoch != _epoch; at = at.Links[0].Parent)
        {
            if (at.Links.Count == 0) return false;
            chain.Add(at);
        }
        for (int i = chain.Count - 1; i >= 0; i--)
        {
            var at = chain[i];
            var link = at.Links[0];
            Journal().Append(new JournalRecord { Op = JournalOp.Bind, Time = now, Number = at.Number, Parent = link.Parent.Number, Name = link.Name });
            at.BoundEpoch = _epoch;
        }
        return true;
    }

    private ulong Bind(StagedInode inode, long now)
    {
        Journal();
        return TryBind(inode, now, out var number) ? number : throw new StagingException(Errno.ENOENT, "the entry has no name any more");
    }

    private static long Nanoseconds(Timestamp t) => t.Seconds * 1_000_000_000L + t.Nanoseconds;
    private static Timestamp FromNanoseconds(long ns) => new(Math.DivRem(ns, 1_000_000_000L, out long rest) - (rest < 0 ? 1 : 0), (uint)(rest < 0 ? rest + 1_000_000_000L : rest));

    public void Dispose()
    {
        _journal?.Dispose();
        _journal = null;
    }
}
