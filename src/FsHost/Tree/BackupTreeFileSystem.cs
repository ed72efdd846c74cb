using System.Collections.Concurrent;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// The read-only tree of a datastore, served through <see cref="IFileSystem"/>: namespaces,
/// groups, snapshots, their manifests, blobs, images and pxar trees. Knows nothing of FUSE.
/// Errors never escape as exceptions: malformed or corrupt data gives EIO for the request that
/// touched it (one log line), encrypted data EACCES, everything else keeps working.
/// </summary>
public sealed class BackupTreeFileSystem : ReadOnlyFileSystemBase, IDisposable
{
    private readonly TreeContext _ctx;
    private readonly NodeTable _nodes;
    private readonly ConcurrentDictionary<ulong, IFileHandle> _files = new();
    private readonly ConcurrentDictionary<ulong, DirectoryListing> _listings = new();
    private long _nextHandle;

    public BackupTreeFileSystem(DataStore store, CachedChunkSource chunks, TreeOptions? options = null, TreeErrorLog? errors = null)
    {
        _ctx = new TreeContext(store, chunks, options ?? new TreeOptions(), errors ?? new TreeErrorLog());
        Root = new NamespaceDirNode(_ctx, null, [], BackupNamespace.Root);
        _nodes = new NodeTable(Root);
    }

    public NamespaceDirNode Root { get; }
    public int NodeCount => _nodes.Count;

    private TimeSpan TimeoutFor(TreeNode node) => node.Immutable ? _ctx.Options.ImmutableTimeout : _ctx.Options.ChangingTimeout;

    public override async ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        if (_nodes.Get(parent) is not DirectoryNode dir) return Errno.ENOTDIR;
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
        try { return new AttributeInfo(await n.GetAttributesAsync(ctx.SessionEnding).ConfigureAwait(false), TimeoutFor(n)); }
        catch (Exception e) { return Fail("stat", e); }
    }

    public override async ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLink(RequestContext ctx, ulong node)
    {
        if (_nodes.Get(node) is not LinkNode link) return Errno.EINVAL;
        try { return (ReadOnlyMemory<byte>)await link.ReadTargetAsync(ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return Fail("readlink", e); }
    }

    public override async ValueTask<VfsResult<OpenInfo>> Open(RequestContext ctx, ulong node, int flags)
    {
        if ((flags & 3) != 0) return Errno.EROFS; // O_WRONLY or O_RDWR
        switch (_nodes.Get(node))
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
        if (!_files.TryGetValue(handle, out var file)) return Errno.EBADF;
        try { return await file.ReadAsync(offset, destination, ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return Fail("read", e); }
    }

    public override ValueTask<Errno> Release(RequestContext ctx, ulong node, ulong handle, int flags)
    {
        if (_files.TryRemove(handle, out var file)) file.Dispose();
        return ValueTask.FromResult(Errno.Ok);
    }

    public override async ValueTask<VfsResult<OpenInfo>> OpenDirectory(RequestContext ctx, ulong node, int flags)
    {
        if (_nodes.Get(node) is not DirectoryNode dir) return Errno.ENOTDIR;
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
        _listings.TryRemove(handle, out _);
        return ValueTask.FromResult(Errno.Ok);
    }

    public override ValueTask<VfsResult<FileSystemStatistics>> GetStatistics(RequestContext ctx, ulong node)
    {
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
        try
        {
            foreach (var (xname, value) in await n.GetXattrsAsync(ctx.SessionEnding).ConfigureAwait(false))
            {
                if (!xname.AsSpan().SequenceEqual(name.Span)) continue;
                if (destination.Length == 0) return value.Length;
                if (destination.Length < value.Length) return Errno.ERANGE;
                value.CopyTo(destination);
                return value.Length;
            }
            return Errno.ENODATA;
        }
        catch (Exception e) { return Fail("getxattr", e); }
    }

    public override async ValueTask<VfsResult<int>> ListXattr(RequestContext ctx, ulong node, Memory<byte> destination)
    {
        if (_nodes.Get(node) is not { } n) return Errno.ENOENT;
        try
        {
            var xattrs = await n.GetXattrsAsync(ctx.SessionEnding).ConfigureAwait(false);
            int total = xattrs.Sum(x => x.Name.Length + 1);
            if (destination.Length == 0) return total;
            if (destination.Length < total) return Errno.ERANGE;
            int pos = 0;
            foreach (var (xname, _) in xattrs)
            {
                xname.CopyTo(destination[pos..]);
                pos += xname.Length;
                destination.Span[pos++] = 0;
            }
            return total;
        }
        catch (Exception e) { return Fail("listxattr", e); }
    }

    /// <summary>Maps a failure to an errno, logging it once (rate-limited).</summary>
    private Errno Fail(string operation, Exception e)
    {
        switch (e)
        {
            case OperationCanceledException: return Errno.EINTR;
            case EncryptedDataException: _ctx.Errors.Report(operation, e); return Errno.EACCES;
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
    }
}
