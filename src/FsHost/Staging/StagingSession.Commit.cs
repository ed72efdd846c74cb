using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Writing;

namespace BackupFs.FsHost.Staging;

/// <summary>Cutting a snapshot from the session, and starting over from it.</summary>
public sealed partial class StagingSession
{
    /// <summary>
    /// Writes the session as the group's next snapshot (split pxar, unchanged files reuse their
    /// payload chunks), then makes that snapshot the session's base. Without
    /// <paramref name="force"/> an unchanged session commits nothing and returns null. Fails with
    /// EBUSY while a file is open for writing. On failure the session stays as it was.
    /// </summary>
    /// <param name="closing">the mount is ending: no write can arrive any more, so files the kernel never released do not block</param>
    public async Task<SplitCommitResult?> CommitAsync(bool force, CancellationToken ct, bool closing = false)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (!force && !Dirty) return null;
        if (OpenWriters > 0 && !closing)
        {
            LastError = $"{OpenWriters} file(s) in staging/{Group.RelativePath} are still open for writing";
            throw new StagingException(Vfs.Errno.EBUSY, LastError);
        }
        SplitCommitResult result;
        // Written before the attempt: if the process dies during it, the next mount sees the
        // marker and does not try again by itself (no crash loop); rewritten with the error.
        WriteErrorMarker("the last commit did not finish (the process ended during it)");
        try
        {
            _journal?.Flush();
            await EnsureNamespaceAsync(Group.Namespace, ct).ConfigureAwait(false);
            var source = await SessionTreeSource.CreateAsync(this, ct).ConfigureAwait(false);
            result = await SplitSnapshotCommit.CommitAsync(_ctx.Store, Group, source, _ctx.Chunks, _ctx.Options.CommitOptions(), ct).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LastError = e is OperationCanceledException ? "the commit was cancelled" : e.Message;
            LastFailure = Environment.TickCount64;
            FailedAtChange = LastChange;
            FailedCommits++;
            WriteErrorMarker(LastError);
            throw;
        }
        LastCommitted = result.Snapshot;
        LastResult = result;
        LastError = null;
        FailedCommits = 0;
        TryDelete(ErrorMarkerPath);
        try { await RebaseAsync(result.Snapshot, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The snapshot is complete; the session keeps its journal and would commit the same tree again.
            _ctx.Log($"backupfs: staging {Group}: committed {result.Snapshot} but could not restart the session from it: {e.Message}");
        }
        return result;
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

    private async Task EnsureNamespaceAsync(BackupNamespace ns, CancellationToken ct)
    {
        if (ns.IsRoot || _ctx.Store.NamespaceExists(ns)) return;
        await EnsureNamespaceAsync(ns.Parent!, ct).ConfigureAwait(false);
        await _ctx.Store.CreateNamespaceAsync(ns, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// After a commit: the tree in memory equals the new snapshot, so each known inode is pointed
    /// at its entry there (spooled content is dropped), and the journal starts empty on the new base.
    /// </summary>
    private async Task RebaseAsync(SnapshotRef snapshot, CancellationToken ct)
    {
        var reader = SnapshotReader.Open(_ctx.Store, snapshot, _ctx.Chunks, _ctx.Options.Keys, _ctx.Options.ChunkSources);
        var accessor = await PxarArchiveOpener.OpenAsync(reader, _ctx.Chunks, SplitSnapshotCommit.ArchiveName + ".pxar", ct).ConfigureAwait(false);
        var files = new Dictionary<long, StagedInode>();
        Root.BaseEntry = accessor.Root;
        await RemapAsync(accessor, Root, files, ct).ConfigureAwait(false);

        _base = snapshot;
        _baseAccessor = accessor;
        _baseLinkCounts = null;
        _baseFiles.Clear();
        foreach (var (identity, inode) in files) _baseFiles[identity] = inode;
        _journal?.Dispose();
        _journal = StagingJournal.Create(StateDirectory, snapshot.BackupTime);
        _epoch++;
        // Open handles keep reading their spool files after the unlink.
        if (Directory.Exists(SpoolDirectory))
            foreach (var file in Directory.EnumerateFiles(SpoolDirectory)) TryDelete(file);
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

    // ---- what the tree source reads (the commit holds the gate) ----

    internal ValueTask<Dictionary<string, StagedInode>> ChildrenLockedAsync(StagedInode dir, CancellationToken ct) => ChildrenAsync(dir, ct);

    internal async ValueTask<PxarMetadata> MetadataLockedAsync(StagedInode inode, CancellationToken ct)
    {
        if (inode.FileType == Vfs.FileModes.Symlink) return new PxarMetadata(); // PBS stores no xattrs for symlinks
        if (inode.Xattrs is null && inode.BaseEntry is { } entry && _baseAccessor is { } accessor)
            return await accessor.ReadMetadataAsync(entry, ct).ConfigureAwait(false);
        var meta = new PxarMetadata();
        foreach (var (name, value) in inode.Xattrs ?? [])
        {
            if (name.AsSpan().SequenceEqual("security.capability"u8)) meta.Fcaps = value;
            else if (name.AsSpan().SequenceEqual("system.posix_acl_access"u8)) PosixAclXattr.ParseAccess(value, meta.Acl);
            else if (name.AsSpan().SequenceEqual("system.posix_acl_default"u8)) { if (inode.IsDirectory) PosixAclXattr.ParseDefault(value, meta.Acl); }
            else if (PxarTreeEncoder.IsArchivedXattr(name)) meta.Xattrs.Add(new PxarXattr(name, value));
        }
        return meta;
    }

    internal ValueTask<Stream> OpenContentLocked(StagedInode inode)
    {
        if (inode.SpoolPath is { } spool)
            return ValueTask.FromResult<Stream>(new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16));
        if (inode.BaseEntry is { Kind: PxarEntryKind.File } entry && _baseAccessor is { } accessor)
            return ValueTask.FromResult(accessor.OpenFileStream(entry));
        return ValueTask.FromResult<Stream>(new MemoryStream([], writable: false));
    }

    /// <summary>Drops every uncommitted change: the session is the base again and its state directory goes.</summary>
    public async Task DiscardAsync(CancellationToken ct)
    {
        using var _ = await EnterAsync(ct).ConfigureAwait(false);
        if (OpenWriters > 0) throw new Staging.StagingException(Vfs.Errno.EBUSY, "files are still open for writing");
        _journal?.Dispose();
        _journal = null;
        // Never through a symlink: the state directory is deleted relative to the store root, component by component.
        Datastore.Platform.SafeDelete.Tree(_ctx.Store.Root, Path.GetRelativePath(_ctx.Store.Root, StateDirectory));
        FailedCommits = 0;
        LastError = null;
        await SetBaseAsync(_ctx.Store.LatestSnapshot(Group), ct).ConfigureAwait(false);
    }
}
