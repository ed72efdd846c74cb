using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// MOUNTPOINT/staging: the directories above sessions (types, namespaces), the sessions
/// themselves (one per group, found again on disk after a crash), and the commit policy: a
/// session with changes is committed once no file in it is open for writing and nothing changed
/// for the commit delay, on unmount, or when asked (backupfs commit).
/// </summary>
public sealed class StagingArea : IAsyncDisposable
{
    private static readonly string[] TypeNames = BackupTypes.All.Select(t => t.ToName()).ToArray();
    private readonly StagingContext _ctx;
    private readonly SemaphoreSlim _structure = new(1, 1);
    private readonly Dictionary<string, StagingSession> _sessions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public StagingArea(StagingContext ctx)
    {
        _ctx = ctx;
        Root = VirtualNode([], StagingPathKind.Root);
    }

    public StagedInode Root { get; }
    public StagingContext Context => _ctx;

    public IReadOnlyList<StagingSession> Sessions
    {
        get { lock (_sessions) return _sessions.Values.ToList(); }
    }

    /// <summary>Event sink for tests and the log: a commit finished (result) or failed (error).</summary>
    public event Action<StagingSession, SplitCommitResult?, Exception?>? Committed;

    private static StagedInode VirtualNode(IReadOnlyList<string> components, StagingPathKind kind)
    {
        var now = Timestamp.Now;
        return new StagedInode(null, StagedRole.Virtual, 0, FileModes.Directory | 0x1ED)
        {
            Virtual = new VirtualDirectory(components, kind),
            AccessTime = now, ModificationTime = now, ChangeTime = now,
        };
    }

    /// <summary>Finds the sessions journaled under &lt;store&gt;/.backupfs/staging and resumes them.</summary>
    public async Task RecoverAsync(CancellationToken ct)
    {
        var top = Path.Combine(_ctx.Store.PrivateDir, StagingPath.SpoolDirName);
        if (!Directory.Exists(top)) return;
        List<string> journals;
        try { journals = Directory.EnumerateFiles(top, StagingJournal.FileName, new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The mount still comes up: a remount must never fail (and be restarted) over staging state.
            _ctx.Log($"backupfs: staging: cannot look for journaled sessions in {top}: {e.Message}");
            return;
        }
        foreach (var journal in journals)
        {
            var relative = Path.GetRelativePath(top, Path.GetDirectoryName(journal)!).Replace('\\', '/');
            BackupGroup group;
            try { group = StagingPath.ParseGroup(relative); }
            catch (Datastore.Formats.InvalidNameException) { continue; }
            try { await SessionAsync(group, create: true, ct).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var aside = Path.Combine(_ctx.Store.PrivateDir, "staging-broken", relative.Replace('/', '_') + "-" + DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                _ctx.Log($"backupfs: staging {group}: cannot resume the session ({e.Message}); its files were moved to {aside}");
                string mark = $"the journaled changes could not be resumed ({e.Message}); they were moved to {aside}";
                try
                {
                    StagingFiles.CreateDirectory(Path.GetDirectoryName(aside)!);
                    Directory.Move(Path.GetDirectoryName(journal)!, aside);
                }
                catch (Exception move) when (move is IOException or UnauthorizedAccessException)
                {
                    _ctx.Log($"backupfs: staging {group}: could not move it aside: {move.Message}");
                    continue;
                }
                // A fresh session in its place, marked so the loss is visible on the directory (user.backupfs.error).
                try { (await SessionAsync(group, create: true, ct).ConfigureAwait(false)).ReportError(mark); }
                catch (Exception again) when (again is not OperationCanceledException)
                {
                    _ctx.Log($"backupfs: staging {group}: cannot start a new session either: {again.Message}");
                }
            }
        }
    }

    /// <summary>The group's session, opened (and linked into the virtual tree) on first use.</summary>
    private async Task<StagingSession> SessionAsync(BackupGroup group, bool create, CancellationToken ct)
    {
        await _structure.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            lock (_sessions)
                if (_sessions.TryGetValue(group.RelativePath, out var known)) return known;
            var parent = VirtualParent(group);
            var name = System.Text.Encoding.UTF8.GetBytes(group.Id);
            var session = await StagingSession.OpenAsync(_ctx, group, new StagedLink(parent, name), ct).ConfigureAwait(false);
            lock (_sessions) _sessions[group.RelativePath] = session;
            lock (parent.Virtual!.Children) parent.Virtual.Children[group.Id] = session.Root;
            return session;
        }
        finally { _structure.Release(); }
    }

    /// <summary>The type directory that holds a group's session, made along the way.</summary>
    private StagedInode VirtualParent(BackupGroup group)
    {
        var dir = Root;
        var components = new List<string>();
        foreach (var ns in group.Namespace.Components)
        {
            dir = VirtualChild(dir, components, "ns", StagingPathKind.NamespaceList);
            dir = VirtualChild(dir, components, ns, StagingPathKind.Namespace);
        }
        return VirtualChild(dir, components, group.Type.ToName(), StagingPathKind.TypeDirectory);
    }

    private static StagedInode VirtualChild(StagedInode dir, List<string> components, string name, StagingPathKind kind)
    {
        components.Add(name);
        lock (dir.Virtual!.Children)
        {
            if (dir.Virtual.Children.TryGetValue(name, out var known)) return known;
            var node = VirtualNode(components.ToArray(), kind);
            node.AddLink(new StagedLink(dir, System.Text.Encoding.UTF8.GetBytes(name)));
            dir.Virtual.Children[name] = node;
            return node;
        }
    }

    // ---- the virtual directories ----

    /// <summary>What exists below a virtual directory: types, namespaces, groups of the datastore and sessions made here.</summary>
    public async Task<List<(byte[] Name, StagedInode Inode)>> ListAsync(StagedInode dir, CancellationToken ct)
    {
        var v = dir.Virtual!;
        var names = new SortedSet<string>(StringComparer.Ordinal);
        lock (v.Children) names.UnionWith(v.Children.Keys);
        switch (v.Kind)
        {
            case StagingPathKind.Root or StagingPathKind.Namespace:
                names.UnionWith(TypeNames);
                if (NamespaceOf(v) is { } ns && _ctx.Store.NamespaceExists(ns) && _ctx.Store.ListNamespaces(ns).Any()) names.Add("ns");
                break;
            case StagingPathKind.NamespaceList:
                if (NamespaceOf(v) is { } parentNs && _ctx.Store.NamespaceExists(parentNs))
                    names.UnionWith(_ctx.Store.ListNamespaces(parentNs).Select(n => n.Name));
                break;
            case StagingPathKind.TypeDirectory:
                if (NamespaceOf(v) is { } groupNs && _ctx.Store.NamespaceExists(groupNs))
                    names.UnionWith(_ctx.Store.ListGroups(groupNs).Where(g => g.Type.ToName() == v.Components[^1]).Select(g => g.Id));
                break;
        }
        var list = new List<(byte[], StagedInode)>();
        foreach (var name in names)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(name);
            if (await LookupAsync(dir, bytes, ct).ConfigureAwait(false) is { } child) list.Add((bytes, child));
        }
        list.Sort(static (a, b) => a.Item1.AsSpan().SequenceCompareTo(b.Item1));
        return list;
    }

    private static BackupNamespace? NamespaceOf(VirtualDirectory v)
    {
        var parts = v.Kind == StagingPathKind.Root ? [] : v.Components.Take(v.Components.Count - (v.Kind == StagingPathKind.Namespace ? 0 : 1)).ToList();
        return StagingPath.Classify(parts, out var ns, out _) is StagingPathKind.Root or StagingPathKind.Namespace ? ns ?? BackupNamespace.Root : null;
    }

    public async Task<StagedInode?> LookupAsync(StagedInode dir, byte[] nameBytes, CancellationToken ct)
    {
        var v = dir.Virtual!;
        var name = System.Text.Encoding.UTF8.GetString(nameBytes);
        lock (v.Children)
            if (v.Children.TryGetValue(name, out var known)) return known;
        var components = v.Components.Append(name).ToList();
        switch (StagingPath.Classify(components, out var ns, out var group))
        {
            case StagingPathKind.TypeDirectory:
                return VirtualChild(dir, v.Components.ToList(), name, StagingPathKind.TypeDirectory);
            case StagingPathKind.NamespaceList when _ctx.Store.NamespaceExists(ns!) && _ctx.Store.ListNamespaces(ns!).Any():
                return VirtualChild(dir, v.Components.ToList(), name, StagingPathKind.NamespaceList);
            case StagingPathKind.Namespace when _ctx.Store.NamespaceExists(ns!):
                return VirtualChild(dir, v.Components.ToList(), name, StagingPathKind.Namespace);
            case StagingPathKind.Group when _ctx.Store.NamespaceExists(group!.Namespace) && _ctx.Store.GroupExists(group):
                return (await SessionAsync(group, create: false, ct).ConfigureAwait(false)).Root;
            default:
                return null;
        }
    }

    /// <summary>mkdir in a virtual directory: a namespace or type directory, or a new group's session.</summary>
    public async Task<StagedInode> MakeDirectoryAsync(StagedInode dir, byte[] nameBytes, CancellationToken ct)
    {
        if (await LookupAsync(dir, nameBytes, ct).ConfigureAwait(false) is not null) throw new StagingException(Errno.EEXIST);
        var v = dir.Virtual!;
        var name = System.Text.Encoding.UTF8.GetString(nameBytes);
        if (!System.Text.Encoding.UTF8.GetBytes(name).AsSpan().SequenceEqual(nameBytes)) throw new StagingException(Errno.EINVAL);
        var components = v.Components.Append(name).ToList();
        var kind = StagingPath.Classify(components, out _, out var group);
        return kind switch
        {
            StagingPathKind.NamespaceList or StagingPathKind.Namespace or StagingPathKind.TypeDirectory => VirtualChild(dir, v.Components.ToList(), name, kind),
            StagingPathKind.Group => (await SessionAsync(group!, create: true, ct).ConfigureAwait(false)).Root,
            _ => throw new StagingException(Errno.EINVAL, $"'{string.Join('/', components)}' is not a staging path ([ns/<name>/...]<type>/<id>)"),
        };
    }

    /// <summary>rmdir in a virtual directory: an empty session is discarded, an empty virtual directory dropped.</summary>
    public async Task RemoveDirectoryAsync(StagedInode dir, byte[] nameBytes, CancellationToken ct)
    {
        var child = await LookupAsync(dir, nameBytes, ct).ConfigureAwait(false) ?? throw new StagingException(Errno.ENOENT);
        if (child.Role == StagedRole.SessionRoot)
        {
            var session = child.Session!;
            var listing = await session.ListAsync(child, ct).ConfigureAwait(false);
            if (!listing.IsOk) throw new StagingException(listing.Error);
            if (listing.Value.Count > 0) throw new StagingException(Errno.ENOTEMPTY);
            if (await session.DiscardAsync(ct).ConfigureAwait(false) is { IsOk: false } busy) throw new StagingException(busy, "files are still open for writing");
            return;
        }
        lock (child.Virtual!.Children)
            if (child.Virtual.Children.Count > 0) throw new StagingException(Errno.ENOTEMPTY);
        lock (dir.Virtual!.Children) dir.Virtual.Children.Remove(System.Text.Encoding.UTF8.GetString(nameBytes));
    }

    // ---- commits ----

    /// <summary>backupfs commit: waits for files open for writing to close (bounded), then commits even an unchanged session.</summary>
    /// <param name="published">see <see cref="StagingSession.CommitAsync"/>: called when the snapshot is complete, before the session restarts from it</param>
    public async Task<SplitCommitResult?> CommitAsync(StagingSession session, CancellationToken ct, Action<SplitCommitResult>? published = null)
    {
        var deadline = Environment.TickCount64 + (long)_ctx.Options.OpenFilesWait.TotalMilliseconds;
        // Short steps: the kernel sends the last RELEASE just after the writer's close returns.
        while (session.OpenWriters > 0 && Environment.TickCount64 < deadline) await Task.Delay(5, ct).ConfigureAwait(false);
        return await RunCommitAsync(session, force: true, ct, published: published).ConfigureAwait(false);
    }

    private async Task<SplitCommitResult?> RunCommitAsync(StagingSession session, bool force, CancellationToken ct, bool closing = false,
        Action<SplitCommitResult>? published = null)
    {
        try
        {
            var result = await session.CommitAsync(force, ct, closing, published).ConfigureAwait(false);
            if (result is not null)
            {
                var s = result.Split;
                _ctx.Log($"backupfs: staging {session.Group}: committed {result.Snapshot} ({s.ReusedFiles} files unchanged, {s.EncodedFiles} written, "
                    + $"{result.InsertedChunks} new chunks, {result.InsertedBytes / 1048576.0:F1} MiB stored)");
                Committed?.Invoke(session, result, null);
            }
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _ctx.Log($"backupfs: staging {session.Group}: commit failed ({session.FailedCommits} in a row): {e.Message}");
            try { Committed?.Invoke(session, null, e); }
            catch (Exception sink) { _ctx.Log($"backupfs: staging {session.Group}: commit observer failed: {sink.Message}"); }
            throw;
        }
    }

    /// <summary>Starts the automatic commits.</summary>
    public void Start() => _loop ??= Task.Run(() => LoopAsync(_stop.Token));

    private async Task LoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(_ctx.Options.CommitDelay.TotalMilliseconds / 4, 100, 1000)));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
                foreach (var session in Sessions)
                {
                    if (!Due(session)) continue;
                    try { await RunCommitAsync(session, force: false, ct).ConfigureAwait(false); }
                    catch (Exception) when (!ct.IsCancellationRequested) { } // logged and marked; held until a change (see Due)
                }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>
    /// Whether the timer commits the session now. After a failed commit it waits for a new change
    /// (the same tree would fail the same way) and backs off: the retry delay, doubled per
    /// consecutive failure, at most an hour. An explicit commit always tries.
    /// </summary>
    private bool Due(StagingSession session)
    {
        long now = Environment.TickCount64;
        if (!session.Dirty || session.OpenWriters != 0 || now - session.LastChange < (long)_ctx.Options.CommitDelay.TotalMilliseconds) return false;
        if (session.FailedCommits == 0) return true;
        if (session.HeldAfterFailure) return false;
        double backoff = Math.Min(_ctx.Options.RetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(session.FailedCommits - 1, 16)), TimeSpan.FromHours(1).TotalMilliseconds);
        return now - session.LastFailure >= (long)backoff;
    }

    /// <summary>Unmount: stops the timer and commits every session with changes (failures stay journaled for the next mount).</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop is { } loop) await loop.ConfigureAwait(false);
        foreach (var session in Sessions)
        {
            if (session.Dirty && session.HeldAfterFailure)
                _ctx.Log($"backupfs: staging {session.Group}: not committed at unmount (the last commit failed: {session.LastError}); the changes stay journaled in {session.StateDirectory}");
            else if (session.Dirty)
            {
                try { await RunCommitAsync(session, force: false, CancellationToken.None, closing: true).ConfigureAwait(false); }
                catch (Exception) { _ctx.Log($"backupfs: staging {session.Group}: the changes stay journaled in {session.StateDirectory} for the next mount"); }
            }
            // An explicit commit answered early may still be restarting the session from its snapshot.
            await session.WaitForCommitAsync().ConfigureAwait(false);
            session.Dispose();
        }
        await _ctx.StopPreparerAsync().ConfigureAwait(false);
    }
}
