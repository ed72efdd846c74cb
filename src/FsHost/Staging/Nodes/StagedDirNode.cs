using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>A directory inside a staging session: every change to its names goes through the session.</summary>
public class StagedDirNode(StagingNodes nodes, StagedInode inode) : StagedEntryNode(nodes, inode),
    INodeLookup, INodeDirectoryOpener, INodeCreator, INodeMaker, INodeDirectoryMaker, INodeSymlinker, INodeLinker,
    INodeUnlinker, INodeDirectoryRemover, INodeRenamer
{
    private const int Truncate = Datastore.Platform.OpenFlags.Truncate, ReadWrite = Datastore.Platform.OpenFlags.ReadWrite;

    /// <summary>Misses may be cached: only the kernel's own requests add names here.</summary>
    public TimeSpan MissTimeout => StagingNodes.SessionTimeout;

    public async ValueTask<VfsResult<Node?>> LookupAsync(RequestContext ctx, ReadOnlyMemory<byte> name)
    {
        var child = await Session.LookupAsync(Inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
        if (child.IsOk) return Nodes.For(child.Value);
        return child.Error == Errno.ENOENT ? VfsResult<Node?>.Ok(null) : child.Error;
    }

    public async ValueTask<VfsResult<OpenedDirectory>> OpenDirectoryAsync(RequestContext ctx)
    {
        var listing = await Session.ListAsync(Inode, ctx.SessionEnding).ConfigureAwait(false);
        return listing.IsOk ? new OpenedDirectory(new StagedDirectoryReader(Nodes, listing.Value)) : listing.Error;
    }

    /// <summary>A session result as the node the kernel sees.</summary>
    private VfsResult<Node> NodeOf(VfsResult<StagedInode> made) => made.IsOk ? Nodes.For(made.Value) : made.Error;

    private async ValueTask<VfsResult<StagedInode>> CreateFileAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask) =>
        await Session.CreateFileAsync(Inode, name.ToArray(), mode, umask, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false);

    public async ValueTask<VfsResult<CreatedFile>> CreateAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags)
    {
        var created = await CreateFileAsync(ctx, name, mode, umask).ConfigureAwait(false);
        if (!created.IsOk) return created.Error;
        var file = (StagedFileNode)Nodes.For(created.Value);
        // O_TRUNC: it is empty; writable: it was just created, whatever its mode says.
        var open = await file.OpenAsync(ctx, flags & ~Truncate | ReadWrite).ConfigureAwait(false);
        return open.IsOk ? new CreatedFile(file, open.Value) : open.Error;
    }

    public async ValueTask<VfsResult<Node>> MakeNodeAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev)
    {
        if ((mode & FileModes.TypeMask) is FileModes.Regular or 0) return NodeOf(await CreateFileAsync(ctx, name, mode, umask).ConfigureAwait(false));
        ulong major = (rdev & 0xfff00) >> 8, minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00); // the kernel's new_decode_dev
        return NodeOf(await Session.MakeSpecialAsync(Inode, name.ToArray(), mode, umask, major, minor, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false));
    }

    public async ValueTask<VfsResult<Node>> MakeDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask) =>
        NodeOf(await Session.MakeDirectoryAsync(Inode, name.ToArray(), mode, umask, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false));

    public async ValueTask<VfsResult<Node>> SymlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target) =>
        NodeOf(await Session.SymlinkAsync(Inode, name.ToArray(), target.ToArray(), ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false));

    /// <summary>Hardlinks stay within one session (EXDEV otherwise, as between filesystems).</summary>
    public async ValueTask<VfsResult<Node>> LinkAsync(RequestContext ctx, Node node, ReadOnlyMemory<byte> newName)
    {
        if (node is not StagedNode staged || staged.Inode.Session != Session) return Errno.EXDEV;
        return NodeOf(await Session.LinkAsync(staged.Inode, Inode, newName.ToArray(), ctx.SessionEnding).ConfigureAwait(false));
    }

    private ValueTask<Errno> RemoveAsync(RequestContext ctx, ReadOnlyMemory<byte> name, bool directory) =>
        Session.UnlinkAsync(Inode, name.ToArray(), directory, ctx.SessionEnding);

    public ValueTask<Errno> UnlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, name, directory: false);

    public ValueTask<Errno> RemoveDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, name, directory: true);

    /// <summary>Renames stay within one session: EXDEV across sessions or out of staging, EPERM into the directories above sessions.</summary>
    public async ValueTask<Errno> RenameAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Node newParent, ReadOnlyMemory<byte> newName, RenameFlags flags)
    {
        if (newParent is not StagedNode to) return Errno.EXDEV;
        if (to is StagingAreaDirNode) return Errno.EPERM;
        if (to.Inode.Session != Session) return Errno.EXDEV;
        return await Session.RenameAsync(Inode, name.ToArray(), to.Inode, newName.ToArray(), flags, ctx.SessionEnding).ConfigureAwait(false);
    }
}
