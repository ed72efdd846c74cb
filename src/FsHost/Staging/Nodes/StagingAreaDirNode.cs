using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>
/// staging/ and the directories above sessions (ns, namespaces, types): they list what could be
/// staged, mkdir makes namespaces, types and sessions, rmdir drops empty ones. They hold no files
/// (EINVAL), have no xattrs, and their attributes and names are fixed (EPERM).
/// </summary>
public sealed class StagingAreaDirNode(StagingNodes nodes, StagedInode inode) : StagedNode(nodes, inode),
    INodeLookup, INodeDirectoryOpener, INodeDirectoryMaker, INodeDirectoryRemover, INodeUnlinker, INodeRenamer,
    INodeCreator, INodeMaker, INodeSymlinker, INodeLinker, INodeAttributeSetter, INodeXattrReader, INodeXattrWriter
{
    public override TimeSpan CacheTimeout => StagingNodes.VirtualTimeout;

    /// <summary>Misses are not cached: a group created by a backup elsewhere must show up at once.</summary>
    public TimeSpan MissTimeout => TimeSpan.Zero;

    public async ValueTask<VfsResult<Node?>> LookupAsync(RequestContext ctx, ReadOnlyMemory<byte> name) =>
        await Nodes.Area.LookupAsync(Inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false) is { } child
            ? Nodes.For(child)
            : VfsResult<Node?>.Ok(null);

    public async ValueTask<VfsResult<OpenedDirectory>> OpenDirectoryAsync(RequestContext ctx) =>
        new OpenedDirectory(new StagedDirectoryReader(Nodes, await Nodes.Area.ListAsync(Inode, ctx.SessionEnding).ConfigureAwait(false)));

    public async ValueTask<VfsResult<Node>> MakeDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask) =>
        Nodes.For(await Nodes.Area.MakeDirectoryAsync(Inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false));

    public async ValueTask<Errno> RemoveDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name)
    {
        await Nodes.Area.RemoveDirectoryAsync(Inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
        return Errno.Ok;
    }

    public ValueTask<Errno> UnlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name) => ValueTask.FromResult(Errno.EPERM);

    public ValueTask<Errno> RenameAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Node newParent, ReadOnlyMemory<byte> newName, RenameFlags flags) =>
        ValueTask.FromResult(newParent is StagedNode ? Errno.EPERM : Errno.EXDEV);

    // Only sessions (staging/[ns/<name>/...]<type>/<id>/) hold files.
    public ValueTask<VfsResult<CreatedFile>> CreateAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags) =>
        ValueTask.FromResult<VfsResult<CreatedFile>>(Errno.EINVAL);
    public ValueTask<VfsResult<Node>> MakeNodeAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev) =>
        ValueTask.FromResult<VfsResult<Node>>(Errno.EINVAL);
    public ValueTask<VfsResult<Node>> SymlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target) =>
        ValueTask.FromResult<VfsResult<Node>>(Errno.EINVAL);

    public ValueTask<VfsResult<Node>> LinkAsync(RequestContext ctx, Node node, ReadOnlyMemory<byte> newName) =>
        ValueTask.FromResult<VfsResult<Node>>(node is StagedNode ? Errno.EPERM : Errno.EXDEV);

    public ValueTask<VfsResult<NodeAttributes>> SetAttributesAsync(RequestContext ctx, SetAttributesRequest request) =>
        ValueTask.FromResult<VfsResult<NodeAttributes>>(Errno.EPERM);

    public ValueTask<VfsResult<int>> GetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Memory<byte> destination) =>
        ValueTask.FromResult<VfsResult<int>>(Errno.ENODATA);
    public ValueTask<VfsResult<int>> ListXattrAsync(RequestContext ctx, Memory<byte> destination) => ValueTask.FromResult<VfsResult<int>>(0);
    public ValueTask<Errno> SetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags) =>
        ValueTask.FromResult(Errno.EPERM);
    public ValueTask<Errno> RemoveXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name) => ValueTask.FromResult(Errno.ENODATA);
}
