using System.Collections.Concurrent;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// The read-only tree of a datastore, served through <see cref="IFileSystem"/>: namespaces,
/// groups, snapshots, their manifests, blobs, images and pxar trees. Knows nothing of FUSE.
/// Errors never escape as exceptions: malformed or corrupt data gives EIO for the request that
/// touched it (one log line), encrypted data EACCES, everything else keeps working.
/// Everything below "staging/" is writable and handled by <see cref="StagingFileSystem"/>.
/// </summary>
public sealed class BackupTreeFileSystem : ReadOnlyFileSystemBase, IDisposable
{
    private readonly TreeContext _ctx;
    private readonly NodeTable _nodes;
    private readonly ConcurrentDictionary<ulong, IFileHandle> _files = new();
    private readonly ConcurrentDictionary<ulong, DirectoryListing> _listings = new();
    private readonly StagingArea? _stagingArea;
    private readonly StagingFileSystem? _staging;
    private long _nextHandle;

    /// <param name="staging">the writable staging area; null for a read-only mount</param>
    /// <param name="follower">keeps the local copy in step with the bucket (S3 stores); null to serve the local copy as it is</param>
    public BackupTreeFileSystem(DataStore store, CachedChunkSource chunks, TreeOptions? options = null, TreeErrorLog? errors = null, StagingArea? staging = null,
        ChunkSourceSet? chunkSources = null, IMetadataFollower? follower = null)
    {
        _ctx = new TreeContext(store, chunks, options ?? new TreeOptions(), errors ?? new TreeErrorLog(), chunkSources) { Staging = staging, Follower = follower };
        Root = new NamespaceDirNode(_ctx, null, [], BackupNamespace.Root);
        _nodes = new NodeTable(Root);
        _stagingArea = staging;
        if (staging is not null) _staging = new StagingFileSystem(staging, _nodes, _ctx.Errors);
    }

    public override void Initialize(IKernelNotifier notifier)
    {
        base.Initialize(notifier);
        _ctx.Notifier = notifier;
        if (_staging is not null) _staging.Notifier = notifier;
        _stagingArea?.Start();
    }

    /// <summary>Unmount: staging sessions with changes are committed before the process goes.</summary>
    public override void Destroy()
    {
        if (_stagingArea is { } area) area.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Staging gives new entries their directory's default ACL, so it needs the unmasked create mode.</summary>
    public override bool AppliesUmask => _staging is not null;

    /// <summary>Under the kernel's writeback cache staged writes leave the times to the kernel.</summary>
    public override void KernelKeepsWriteTimes(bool keeps) { if (_ctx.Staging is { } s) s.Context.KernelKeepsWriteTimes = keeps; }

    private StagedInode? Staged(ulong node) => _staging is null ? null : _nodes.Get(node) as StagedInode;

    public NamespaceDirNode Root { get; }
    public int NodeCount => _nodes.Count;

    private TimeSpan TimeoutFor(TreeNode node) => node.Immutable ? _ctx.Options.ImmutableTimeout : _ctx.Options.ChangingTimeout;

    public override async ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        var parentNode = _nodes.Get(parent);
        if (parentNode is StagedInode staged) return await _staging!.Lookup(ctx, staged, name).ConfigureAwait(false);
        if (parentNode is not DirectoryNode dir) return Errno.ENOTDIR;
        try
        {
            var child = await dir.LookupAsync(name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
            if (child is null) return EntryInfo.Negative(TimeoutFor(dir));
            return await EntryFor(child, ctx.SessionEnding).ConfigureAwait(false);
        }
        catch (Exception e) { return Fail("lookup", e); }
    }

    private async ValueTask<EntryInfo> EntryFor(TreeNode node, CancellationToken ct)
    {
        var attributes = await node.GetAttributesAsync(ct).ConfigureAwait(false);
        var timeout = TimeoutFor(node);
        return new EntryInfo
        {
            NodeId = _nodes.AddLookup(node),
            Attributes = attributes,
            EntryTimeout = timeout,
            AttributeTimeout = timeout,
        };
    }

    public override void Forget(ulong node, ulong lookupCount) => _nodes.Forget(node, lookupCount);

    public override async ValueTask<VfsResult<AttributeInfo>> GetAttributes(RequestContext ctx, ulong node, ulong? handle)
    {
        if (_nodes.Get(node) is not { } n) return Errno.ENOENT;
        if (n is StagedInode staged && _staging is not null) return _staging.GetAttributes(staged);
        try { return new AttributeInfo(await n.GetAttributesAsync(ctx.SessionEnding).ConfigureAwait(false), TimeoutFor(n)); }
        catch (Exception e) { return Fail("stat", e); }
    }

    public override ValueTask<VfsResult<AttributeInfo>> SetAttributes(RequestContext ctx, ulong node, SetAttributesRequest request) =>
        Staged(node) is { } staged ? _staging!.SetAttributes(ctx, staged, request) : Done<AttributeInfo>(Errno.EROFS);

    public override async ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLink(RequestContext ctx, ulong node)
    {
        var n = _nodes.Get(node);
        if (n is StagedInode staged && _staging is not null) return _staging.ReadLink(staged);
        if (n is not LinkNode link) return Errno.EINVAL;
        try { return (ReadOnlyMemory<byte>)await link.ReadTargetAsync(ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return Fail("readlink", e); }
    }

    public override async ValueTask<VfsResult<OpenInfo>> Open(RequestContext ctx, ulong node, int flags)
    {
        var n = _nodes.Get(node);
        if (n is StagedInode staged && _staging is not null) return await _staging.Open(ctx, staged, flags).ConfigureAwait(false);
        if ((flags & 3) != 0) return Errno.EROFS; // O_WRONLY or O_RDWR
        switch (n)
        {
            case FileNode file:
                try
                {
                    var handle = await file.OpenAsync(ctx.SessionEnding).ConfigureAwait(false);
                    ulong id = (ulong)Interlocked.Increment(ref _nextHandle);
                    _files[id] = handle;
                    // Snapshot files never change: keep the page cache across opens.
                    return new OpenInfo(id, OpenOptions.KeepCache);
                }
                catch (Exception e) { return Fail("open", e); }
            case DirectoryNode: return Errno.EISDIR;
            case null: return Errno.ENOENT;
            default: return Errno.EACCES; // fifos, sockets and devices of an archive cannot be opened
        }
    }

    public override async ValueTask<VfsResult<int>> Read(RequestContext ctx, ulong node, ulong handle, long offset, Memory<byte> destination)
    {
        if (StagingFileSystem.OwnsHandle(handle) && _staging is not null) return await _staging.Read(ctx, handle, offset, destination).ConfigureAwait(false);
        if (!_files.TryGetValue(handle, out var file)) return Errno.EBADF;
        try { return await file.ReadAsync(offset, destination, ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return Fail("read", e); }
    }

    public override ValueTask<VfsResult<int>> Write(RequestContext ctx, ulong node, ulong handle, long offset, ReadOnlyMemory<byte> data) =>
        StagingFileSystem.OwnsHandle(handle) && _staging is not null ? ValueTask.FromResult(_staging.Write(handle, offset, data)) : Done<int>(Errno.EROFS);

    public override ValueTask<Errno> Fsync(RequestContext ctx, ulong node, ulong handle, bool dataOnly) =>
        StagingFileSystem.OwnsHandle(handle) && _staging is not null ? _staging.Fsync(ctx, handle) : Done(Errno.Ok);

    public override ValueTask<Errno> Release(RequestContext ctx, ulong node, ulong handle, int flags)
    {
        if (StagingFileSystem.OwnsHandle(handle) && _staging is not null) return _staging.Release(handle);
        if (_files.TryRemove(handle, out var file)) file.Dispose();
        return ValueTask.FromResult(Errno.Ok);
    }

    public override async ValueTask<VfsResult<OpenInfo>> OpenDirectory(RequestContext ctx, ulong node, int flags)
    {
        var n = _nodes.Get(node);
        if (n is StagedInode staged && _staging is not null) return await _staging.OpenDirectory(ctx, staged).ConfigureAwait(false);
        if (n is not DirectoryNode dir) return Errno.ENOTDIR;
        try
        {
            // The listing is fixed at opendir, so readdir cookies (positions in it) stay stable.
            var listing = await dir.OpenListingAsync(ctx.SessionEnding).ConfigureAwait(false);
            ulong id = (ulong)Interlocked.Increment(ref _nextHandle);
            _listings[id] = listing;
            return new OpenInfo(id, dir.Immutable ? OpenOptions.CacheDirectory | OpenOptions.KeepCache : OpenOptions.None);
        }
        catch (Exception e) { return Fail("opendir", e); }
    }

    public override async ValueTask<Errno> ReadDirectory(RequestContext ctx, ulong node, ulong handle, ulong offset, DirectoryEntryWriter writer)
    {
        if (StagingFileSystem.OwnsHandle(handle) && _staging is not null) return _staging.ReadDirectory(handle, offset, writer);
        if (!_listings.TryGetValue(handle, out var listing)) return Errno.EBADF;
        try
        {
            int i = (int)Math.Min(offset, (ulong)listing.Count), pageSize = 64;
            while (i < listing.Count)
            {
                // Pages grow while the reply has room: few wasted decodes for the entries that do not fit.
                var page = await listing.PageAsync(i, pageSize, ctx.SessionEnding).ConfigureAwait(false);
                if (page.Count == 0) break;
                pageSize = Math.Min(pageSize * 2, 1024);
                foreach (var listed in page)
                {
                    if (!await TryAddEntryAsync(writer, listed, (ulong)i + 1, ctx.SessionEnding).ConfigureAwait(false)) return Errno.Ok;
                    i++;
                }
            }
            return Errno.Ok;
        }
        catch (Exception e) { return Fail("readdir", e); }
    }

    /// <summary>Writes one entry; false when the reply is full.</summary>
    private async ValueTask<bool> TryAddEntryAsync(DirectoryEntryWriter writer, TreeNode child, ulong next, CancellationToken ct)
    {
        NodeAttributes attributes;
        try { attributes = await child.GetAttributesAsync(ct).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An unreadable entry (a malformed archive) is still listed; stat on it gives the error.
            Fail("stat", e);
            uint mode = child is DirectoryNode ? FileModes.Directory : child is LinkNode ? FileModes.Symlink : FileModes.Regular;
            return writer.TryAdd(child.Name, child.StableInode, mode, next);
        }
        if (!writer.IsPlus) return writer.TryAdd(child.Name, attributes.Inode, attributes.Mode, next);
        // The kernel will hold this entry: use the directory's node for it, so a later lookup finds the same one.
        var node = child.Parent?.Adopt(child) ?? child;
        var timeout = TimeoutFor(node);
        var entry = new EntryInfo { NodeId = _nodes.AddLookup(node), Attributes = attributes, EntryTimeout = timeout, AttributeTimeout = timeout };
        if (writer.TryAddPlus(node.Name, entry, next)) return true;
        _nodes.Forget(entry.NodeId, 1); // not sent: take the count back
        return false;
    }

    public override ValueTask<Errno> ReleaseDirectory(RequestContext ctx, ulong node, ulong handle)
    {
        if (StagingFileSystem.OwnsHandle(handle)) _staging?.ReleaseDirectory(handle);
        _listings.TryRemove(handle, out _);
        return ValueTask.FromResult(Errno.Ok);
    }

    public override ValueTask<VfsResult<FileSystemStatistics>> GetStatistics(RequestContext ctx, ulong node)
    {
        if (Staged(node) is not null) return ValueTask.FromResult(_staging!.GetStatistics());
        try
        {
            var drive = new DriveInfo(_ctx.Store.Root);
            const uint block = 4096;
            ulong total = (ulong)drive.TotalSize / block, free = (ulong)drive.TotalFreeSpace / block;
            // Read-only: nothing is available to write here.
            return ValueTask.FromResult<VfsResult<FileSystemStatistics>>(new FileSystemStatistics(total, free, 0, (ulong)_nodes.Count, 0, block));
        }
        catch (Exception e) { return ValueTask.FromResult<VfsResult<FileSystemStatistics>>(Fail("statfs", e)); }
    }

    public override async ValueTask<VfsResult<int>> GetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, Memory<byte> destination)
    {
        if (_nodes.Get(node) is not { } n) return Errno.ENOENT;
        if (n is StagedInode staged && _staging is not null) return await _staging.GetXattr(ctx, staged, name, destination).ConfigureAwait(false);
        try
        {
            var xattrs = await n.GetXattrsAsync(ctx.SessionEnding).ConfigureAwait(false);
            return XattrReplies.Value(xattrs.FirstOrDefault(x => x.Name.AsSpan().SequenceEqual(name.Span)).Value, destination);
        }
        catch (Exception e) { return Fail("getxattr", e); }
    }

    public override async ValueTask<VfsResult<int>> ListXattr(RequestContext ctx, ulong node, Memory<byte> destination)
    {
        if (_nodes.Get(node) is not { } n) return Errno.ENOENT;
        if (n is StagedInode staged && _staging is not null) return await _staging.ListXattr(ctx, staged, destination).ConfigureAwait(false);
        try
        {
            return XattrReplies.Names(await n.GetXattrsAsync(ctx.SessionEnding).ConfigureAwait(false), destination);
        }
        catch (Exception e) { return Fail("listxattr", e); }
    }

    public override ValueTask<Errno> SetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags) =>
        Staged(node) is { } staged ? _staging!.SetXattr(ctx, staged, name, value, flags) : Done(Errno.EROFS);

    public override ValueTask<Errno> RemoveXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name) =>
        Staged(node) is { } staged ? _staging!.RemoveXattr(ctx, staged, name) : Done(Errno.EROFS);

    // ---- changes: only below staging/ ----

    public override ValueTask<VfsResult<CreateInfo>> Create(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags) =>
        Staged(parent) is { } dir ? _staging!.Create(ctx, dir, name, mode, umask, flags) : Done<CreateInfo>(Errno.EROFS);

    public override ValueTask<VfsResult<EntryInfo>> MakeNode(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev) =>
        Staged(parent) is { } dir ? _staging!.MakeNode(ctx, dir, name, mode, umask, rdev) : Done<EntryInfo>(Errno.EROFS);

    public override ValueTask<VfsResult<EntryInfo>> MakeDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask) =>
        Staged(parent) is { } dir ? _staging!.MakeDirectory(ctx, dir, name, mode, umask) : Done<EntryInfo>(Errno.EROFS);

    public override ValueTask<Errno> Unlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name) =>
        Staged(parent) is { } dir ? _staging!.Unlink(ctx, dir, name, directory: false) : Done(Errno.EROFS);

    public override ValueTask<Errno> RemoveDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name) =>
        Staged(parent) is { } dir ? _staging!.Unlink(ctx, dir, name, directory: true) : Done(Errno.EROFS);

    public override ValueTask<Errno> Rename(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, RenameFlags flags)
    {
        var from = Staged(parent);
        var to = Staged(newParent);
        if (from is null && to is null) return Done(Errno.EROFS);
        if (from is null || to is null) return Done(Errno.EXDEV);
        return _staging!.Rename(ctx, from, name, to, newName, flags);
    }

    public override ValueTask<VfsResult<EntryInfo>> Symlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target) =>
        Staged(parent) is { } dir ? _staging!.Symlink(ctx, dir, name, target) : Done<EntryInfo>(Errno.EROFS);

    public override ValueTask<VfsResult<EntryInfo>> Link(RequestContext ctx, ulong node, ulong newParent, ReadOnlyMemory<byte> newName)
    {
        var dir = Staged(newParent);
        if (dir is null) return Done<EntryInfo>(Errno.EROFS);
        return Staged(node) is { } inode ? _staging!.Link(ctx, inode, dir, newName) : Done<EntryInfo>(Errno.EXDEV);
    }

    /// <summary>Maps a failure to an errno, logging it once (rate-limited).</summary>
    private Errno Fail(string operation, Exception e)
    {
        switch (e)
        {
            case OperationCanceledException: return Errno.EINTR;
            case EncryptedDataException: _ctx.Errors.ReportOnce(e.Message); return Errno.EACCES; // one line per snapshot, naming the key it needs
            case BackupFsException or IOException or InvalidDataException:
                _ctx.Errors.Report(operation, e);
                return Errno.EIO;
            default:
                _ctx.Errors.Report(operation + " (unexpected)", e);
                return Errno.EIO;
        }
    }

    public void Dispose()
    {
        foreach (var h in _files.Values) h.Dispose();
        _files.Clear();
        _ctx.ChunkSources.Dispose(); // the keyed caches (idempotent; the plain cache is the caller's)
    }
}
