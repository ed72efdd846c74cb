using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Nodes;

/// <summary>
/// Serves a tree of <see cref="Node"/>s through <see cref="IFileSystem"/>: owns the node ids and
/// lookup counts (FORGET), the open files and directories of the mount (as objects, by handle),
/// and sends each request to the capability the node implements. A node without it gets the
/// answer POSIX gives: EROFS for a change on a read-only node, ENOTDIR, EISDIR, EINVAL, ENOSYS,
/// no xattrs. Exceptions from a node become errnos through the one <see cref="ErrnoMapper"/>.
/// </summary>
public sealed class NodeHost : IFileSystem, IDisposable
{
    public const ulong RootId = NodeRegistry.RootId;
    private readonly NodeRegistry _nodes;
    private readonly HandleTable _handles = new();
    private readonly ErrnoMapper _errors;
    private readonly IMountLifecycle? _lifecycle;

    /// <param name="lifecycle">mount-level hooks of the tree (notifier, unmount, umask, write times); disposed with the host</param>
    public NodeHost(Node root, MountErrorLog? errors = null, IMountLifecycle? lifecycle = null)
    {
        Root = root;
        _nodes = new NodeRegistry(root);
        _errors = new ErrnoMapper(errors ?? new MountErrorLog());
        _lifecycle = lifecycle;
    }

    public Node Root { get; }

    /// <summary>Nodes the kernel holds now (and the root).</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>Open files and directories.</summary>
    public int OpenHandleCount => _handles.Count;

    /// <summary>The kernel notifier, once <see cref="Initialize"/> ran.</summary>
    public IKernelNotifier? Notifier { get; private set; }

    /// <summary>The node the kernel knows by <paramref name="id"/>, if it still does.</summary>
    public Node? NodeOf(ulong id) => _nodes.Get(id);

    public void Initialize(IKernelNotifier notifier)
    {
        Notifier = notifier;
        _lifecycle?.Mounted(notifier);
    }

    public void Destroy() => _lifecycle?.Unmounting();

    public bool AppliesUmask => _lifecycle?.AppliesUmask ?? false;

    public void KernelKeepsWriteTimes(bool keeps) => _lifecycle?.KernelKeepsWriteTimes(keeps);

    public void KernelPassesThrough(bool passesThrough) => _lifecycle?.KernelPassesThrough(passesThrough);

    private static ValueTask<Errno> Done(Errno e) => ValueTask.FromResult(e);
    private static ValueTask<VfsResult<T>> Done<T>(VfsResult<T> r) => ValueTask.FromResult(r);

    /// <summary>An entry reply for <paramref name="node"/>: attributes first, so a node whose stat fails is not counted.</summary>
    private async ValueTask<EntryInfo> EntryForAsync(Node node, CancellationToken ct)
    {
        var attributes = await node.GetAttributesAsync(ct).ConfigureAwait(false);
        var timeout = node.CacheTimeout;
        return new EntryInfo { NodeId = _nodes.AddLookup(node), Attributes = attributes, EntryTimeout = timeout, AttributeTimeout = timeout };
    }

    private async ValueTask<VfsResult<EntryInfo>> EntryForAsync(VfsResult<Node> made, CancellationToken ct) =>
        made.IsOk ? await EntryForAsync(made.Value, ct).ConfigureAwait(false) : made.Error;

    // ---- names and attributes ----

    public async ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        var dir = _nodes.Get(parent);
        if (dir is null) return Errno.ENOENT;
        if (dir is not INodeLookup lookup) return Errno.ENOTDIR;
        try
        {
            var found = await lookup.LookupAsync(ctx, name).ConfigureAwait(false);
            if (!found.IsOk) return found.Error;
            if (found.Value is { } child) return await EntryForAsync(child, ctx.SessionEnding).ConfigureAwait(false);
            return lookup.MissTimeout > TimeSpan.Zero ? EntryInfo.Negative(lookup.MissTimeout) : Errno.ENOENT;
        }
        catch (Exception e) { return _errors.Map("lookup", e); }
    }

    public void Forget(ulong node, ulong lookupCount) => _nodes.Forget(node, lookupCount);

    public async ValueTask<VfsResult<AttributeInfo>> GetAttributes(RequestContext ctx, ulong node, ulong? handle)
    {
        if (_nodes.Get(node) is not { } n) return Errno.ENOENT;
        try { return new AttributeInfo(await n.GetAttributesAsync(ctx.SessionEnding).ConfigureAwait(false), n.CacheTimeout); }
        catch (Exception e) { return _errors.Map("stat", e); }
    }

    public async ValueTask<VfsResult<AttributeInfo>> SetAttributes(RequestContext ctx, ulong node, SetAttributesRequest request)
    {
        var n = _nodes.Get(node);
        if (n is null) return Errno.ENOENT;
        if (n is not INodeAttributeSetter setter) return Errno.EROFS;
        try
        {
            var set = await setter.SetAttributesAsync(ctx, request).ConfigureAwait(false);
            return set.IsOk ? new AttributeInfo(set.Value, n.CacheTimeout) : set.Error;
        }
        catch (Exception e) { return _errors.Map("setattr", e); }
    }

    public async ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLink(RequestContext ctx, ulong node)
    {
        if (_nodes.Get(node) is not INodeLinkReader link) return Errno.EINVAL;
        try { return await link.ReadLinkAsync(ctx).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("readlink", e); }
    }

    // ---- files ----

    public async ValueTask<VfsResult<OpenInfo>> Open(RequestContext ctx, ulong node, int flags)
    {
        switch (_nodes.Get(node))
        {
            case null: return Errno.ENOENT;
            case INodeOpener opener:
                try
                {
                    var opened = await opener.OpenAsync(ctx, flags).ConfigureAwait(false);
                    if (!opened.IsOk) return opened.Error;
                    return new OpenInfo(_handles.Add(opened.Value.File), opened.Value.Options) { BackingFile = opened.Value.BackingFile };
                }
                catch (Exception e) { return _errors.Map("open", e); }
            case INodeDirectoryOpener: return Errno.EISDIR;
            default: return Errno.EACCES; // fifos, sockets and devices: the kernel opens those itself
        }
    }

    public async ValueTask<VfsResult<int>> Read(RequestContext ctx, ulong node, ulong handle, long offset, Memory<byte> destination)
    {
        var open = _handles.Get(handle);
        if (open is not IFileReader reader) return open is null ? Errno.EBADF : Errno.ENOSYS;
        try { return await reader.ReadAsync(offset, destination, ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("read", e); }
    }

    public async ValueTask<VfsResult<int>> ReadInto(RequestContext ctx, ulong node, ulong handle, long offset, ReadSlices into)
    {
        var open = _handles.Get(handle);
        if (open is not IFileSliceReader slicer) return await IFileSystem.ReadFlat(this, ctx, node, handle, offset, into).ConfigureAwait(false);
        try { return await slicer.ReadSlicesAsync(offset, into, ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("read", e); }
    }

    public async ValueTask<VfsResult<int>> Write(RequestContext ctx, ulong node, ulong handle, long offset, ReadOnlyMemory<byte> data)
    {
        var open = _handles.Get(handle);
        if (open is not IFileWriter writer) return open is null ? Errno.EBADF : Errno.EROFS;
        try { return await writer.WriteAsync(ctx, offset, data).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("write", e); }
    }

    public ValueTask<Errno> Flush(RequestContext ctx, ulong node, ulong handle) => Done(Errno.Ok);
    /// <summary>No node kind acts on close(2): data reaches the spool with each WRITE, errors with it.</summary>
    public bool WantsFlush => false;

    public async ValueTask<Errno> Fsync(RequestContext ctx, ulong node, ulong handle, bool dataOnly)
    {
        var open = _handles.Get(handle);
        if (open is not IFileSyncer syncer) return open is null ? Errno.EBADF : Errno.Ok; // nothing to make durable
        try { return await syncer.FsyncAsync(ctx, dataOnly).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("fsync", e); }
    }

    public async ValueTask<Errno> Release(RequestContext ctx, ulong node, ulong handle, int flags)
    {
        if (_handles.Remove(handle) is not IOpenFile file) return Errno.Ok;
        try { return await file.ReleaseAsync().ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("release", e); }
    }

    // ---- directories ----

    public async ValueTask<VfsResult<OpenInfo>> OpenDirectory(RequestContext ctx, ulong node, int flags)
    {
        var n = _nodes.Get(node);
        if (n is null) return Errno.ENOENT;
        if (n is not INodeDirectoryOpener opener) return Errno.ENOTDIR;
        try
        {
            var opened = await opener.OpenDirectoryAsync(ctx).ConfigureAwait(false);
            if (!opened.IsOk) return opened.Error;
            return new OpenInfo(_handles.Add(opened.Value.Directory), opened.Value.Options);
        }
        catch (Exception e) { return _errors.Map("opendir", e); }
    }

    /// <summary>Cookies the host's "." and ".." take before a directory's own entries.</summary>
    private const ulong DotEntries = 2;

    public async ValueTask<Errno> ReadDirectory(RequestContext ctx, ulong node, ulong handle, ulong offset, DirectoryEntryWriter writer)
    {
        if (_handles.Get(handle) is not IOpenDirectory dir) return Errno.EBADF;
        // "." and ".." lead every listing, as on a disk filesystem (ls -a, file managers); the
        // directory's own cookies follow them. The kernel resolves both names itself.
        if (offset < DotEntries)
        {
            var self = _nodes.Get(node);
            ulong inode = self?.StableInode ?? node, parent = self?.ParentInode ?? inode;
            if (offset == 0 && !writer.TryAdd("."u8, inode, FileModes.Directory, 1)) return Errno.Ok;
            if (!writer.TryAdd(".."u8, parent, FileModes.Directory, DotEntries)) return Errno.Ok;
            offset = DotEntries;
        }
        try { return await dir.ReadAsync(ctx, offset - DotEntries, new DirectoryFiller(_nodes, writer, DotEntries)).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("readdir", e); }
    }

    public ValueTask<Errno> ReleaseDirectory(RequestContext ctx, ulong node, ulong handle)
    {
        _handles.Remove(handle);
        return Done(Errno.Ok);
    }

    // ---- filesystem and extended attributes ----

    public ValueTask<VfsResult<FileSystemStatistics>> GetStatistics(RequestContext ctx, ulong node)
    {
        if (_nodes.Get(node) is not INodeStatistics statistics) return Done<FileSystemStatistics>(new FileSystemStatistics(0, 0, 0, 0, 0));
        try { return Done(statistics.GetStatistics(_nodes.Count)); }
        catch (Exception e) { return Done<FileSystemStatistics>(_errors.Map("statfs", e)); }
    }

    public async ValueTask<VfsResult<int>> GetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, Memory<byte> destination)
    {
        var n = _nodes.Get(node);
        if (n is null) return Errno.ENOENT;
        if (n is not INodeXattrReader reader) return Errno.ENODATA;
        try { return await reader.GetXattrAsync(ctx, name, destination).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("getxattr", e); }
    }

    public async ValueTask<VfsResult<int>> ListXattr(RequestContext ctx, ulong node, Memory<byte> destination)
    {
        var n = _nodes.Get(node);
        if (n is null) return Errno.ENOENT;
        if (n is not INodeXattrReader reader) return 0;
        try { return await reader.ListXattrAsync(ctx, destination).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("listxattr", e); }
    }

    public async ValueTask<Errno> SetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags)
    {
        if (_nodes.Get(node) is not INodeXattrWriter writer) return Errno.EROFS;
        try { return await writer.SetXattrAsync(ctx, name, value, flags).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("setxattr", e); }
    }

    public async ValueTask<Errno> RemoveXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name)
    {
        if (_nodes.Get(node) is not INodeXattrWriter writer) return Errno.EROFS;
        try { return await writer.RemoveXattrAsync(ctx, name).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("removexattr", e); }
    }

    // ---- changing the tree ----

    public async ValueTask<VfsResult<CreateInfo>> Create(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags)
    {
        if (_nodes.Get(parent) is not INodeCreator creator) return Errno.EROFS;
        try
        {
            var created = await creator.CreateAsync(ctx, name, mode, umask, flags).ConfigureAwait(false);
            if (!created.IsOk) return created.Error;
            var (node, open) = created.Value;
            ulong handle = _handles.Add(open.File);
            try { return new CreateInfo(await EntryForAsync(node, ctx.SessionEnding).ConfigureAwait(false), new OpenInfo(handle, open.Options) { BackingFile = open.BackingFile }); }
            catch
            {
                _handles.Remove(handle);
                await open.File.ReleaseAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (Exception e) { return _errors.Map("create", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> MakeNode(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev)
    {
        if (_nodes.Get(parent) is not INodeMaker maker) return Errno.EROFS;
        try { return await EntryForAsync(await maker.MakeNodeAsync(ctx, name, mode, umask, rdev).ConfigureAwait(false), ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("mknod", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> MakeDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask)
    {
        if (_nodes.Get(parent) is not INodeDirectoryMaker maker) return Errno.EROFS;
        try { return await EntryForAsync(await maker.MakeDirectoryAsync(ctx, name, mode, umask).ConfigureAwait(false), ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("mkdir", e); }
    }

    public async ValueTask<Errno> Unlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        if (_nodes.Get(parent) is not INodeUnlinker unlinker) return Errno.EROFS;
        try { return await unlinker.UnlinkAsync(ctx, name).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("unlink", e); }
    }

    public async ValueTask<Errno> RemoveDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name)
    {
        if (_nodes.Get(parent) is not INodeDirectoryRemover remover) return Errno.EROFS;
        try { return await remover.RemoveDirectoryAsync(ctx, name).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("rmdir", e); }
    }

    /// <summary>Within a writable part of the mount the source directory decides; between a read-only
    /// and a writable part it is EXDEV (a move across filesystems); within a read-only part EROFS.</summary>
    public async ValueTask<Errno> Rename(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, RenameFlags flags)
    {
        var from = _nodes.Get(parent);
        var to = _nodes.Get(newParent);
        if (from is null || to is null) return Errno.ENOENT;
        if (from is not INodeRenamer renamer) return to is INodeRenamer ? Errno.EXDEV : Errno.EROFS;
        try { return await renamer.RenameAsync(ctx, name, to, newName, flags).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("rename", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> Symlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target)
    {
        if (_nodes.Get(parent) is not INodeSymlinker symlinker) return Errno.EROFS;
        try { return await EntryForAsync(await symlinker.SymlinkAsync(ctx, name, target).ConfigureAwait(false), ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("symlink", e); }
    }

    public async ValueTask<VfsResult<EntryInfo>> Link(RequestContext ctx, ulong node, ulong newParent, ReadOnlyMemory<byte> newName)
    {
        if (_nodes.Get(newParent) is not INodeLinker linker) return Errno.EROFS;
        if (_nodes.Get(node) is not { } existing) return Errno.ENOENT;
        try { return await EntryForAsync(await linker.LinkAsync(ctx, existing, newName).ConfigureAwait(false), ctx.SessionEnding).ConfigureAwait(false); }
        catch (Exception e) { return _errors.Map("link", e); }
    }

    /// <summary>Drops what is still open (unmount) and disposes the tree's lifecycle.</summary>
    public void Dispose()
    {
        foreach (var open in _handles.RemoveAll()) (open as IDisposable)?.Dispose();
        _lifecycle?.Dispose();
    }
}
