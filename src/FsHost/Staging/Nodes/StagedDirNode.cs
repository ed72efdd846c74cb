using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>A directory inside a staging session: every change to its names goes through the session.</summary>
public class StagedDirNode(StagingNodes nodes, StagedInode inode) : StagedEntryNode(nodes, inode),
    INodeLookup, INodeDirectoryOpener, INodeCreator, INodeMaker, INodeDirectoryMaker, INodeSymlinker, INodeLinker,
    INodeUnlinker, INodeDirectoryRemover, INodeRenamer
{
    private const int Truncate = 0x200, ReadWrite = 2; // O_TRUNC, O_RDWR

    /// <summary>Misses may be cached: only the kernel's own requests add names here.</summary>
    public TimeSpan MissTimeout => StagingNodes.SessionTimeout;

    public async ValueTask<VfsResult<Node?>> LookupAsync(RequestContext ctx, ReadOnlyMemory<byte> name) =>
        await Session.LookupAsync(Inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false) is { } child
            ? Nodes.For(child)
            : VfsResult<Node?>.Ok(null);

    public async ValueTask<VfsResult<OpenedDirectory>> OpenDirectoryAsync(RequestContext ctx) =>
        new OpenedDirectory(new StagedDirectoryReader(Nodes, await Session.ListAsync(Inode, ctx.SessionEnding).ConfigureAwait(false)));

    private async ValueTask<StagedInode> CreateFileAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask) =>
        await Session.CreateFileAsync(Inode, name.ToArray(), mode, umask, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false);

    public async ValueTask<VfsResult<CreatedFile>> CreateAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags)
    {
        var file = (StagedFileNode)Nodes.For(await CreateFileAsync(ctx, name, mode, umask).ConfigureAwait(false));
        // O_TRUNC: it is empty; writable: it was just created, whatever its mode says.
        var open = await file.OpenAsync(ctx, flags & ~Truncate | ReadWrite).ConfigureAwait(false);
        return open.IsOk ? new CreatedFile(file, open.Value) : open.Error;
    }

    public async ValueTask<VfsResult<Node>> MakeNodeAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev)
    {
        if ((mode & FileModes.TypeMask) is FileModes.Regular or 0) return Nodes.For(await CreateFileAsync(ctx, name, mode, umask).ConfigureAwait(false));
        ulong major = (rdev & 0xfff00) >> 8, minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00); // the kernel's new_decode_dev
        return Nodes.For(await Session.MakeSpecialAsync(Inode, name.ToArray(), mode, umask, major, minor, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false));
    }

    public async ValueTask<VfsResult<Node>> MakeDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask) =>
        Nodes.For(await Session.MakeDirectoryAsync(Inode, name.ToArray(), mode, umask, ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false));

    public async ValueTask<VfsResult<Node>> SymlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target) =>
        Nodes.For(await Session.SymlinkAsync(Inode, name.ToArray(), target.ToArray(), ctx.Uid, ctx.Gid, ctx.SessionEnding).ConfigureAwait(false));

    /// <summary>Hardlinks stay within one session (EXDEV otherwise, as between filesystems).</summary>
    public async ValueTask<VfsResult<Node>> LinkAsync(RequestContext ctx, Node node, ReadOnlyMemory<byte> newName)
    {
        if (node is not StagedNode staged || staged.Inode.Session != Session) return Errno.EXDEV;
        return Nodes.For(await Session.LinkAsync(staged.Inode, Inode, newName.ToArray(), ctx.SessionEnding).ConfigureAwait(false));
    }

    private async ValueTask<Errno> RemoveAsync(RequestContext ctx, ReadOnlyMemory<byte> name, bool directory)
    {
        await Session.UnlinkAsync(Inode, name.ToArray(), directory, ctx.SessionEnding).ConfigureAwait(false);
        return Errno.Ok;
    }

    public ValueTask<Errno> UnlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, name, directory: false);

    public ValueTask<Errno> RemoveDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name) => RemoveAsync(ctx, name, directory: true);

    /// <summary>Renames stay within one session: EXDEV across sessions or out of staging, EPERM into the directories above sessions.</summary>
    public async ValueTask<Errno> RenameAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Node newParent, ReadOnlyMemory<byte> newName, RenameFlags flags)
    {
        if (newParent is not StagedNode to) return Errno.EXDEV;
        if (to is StagingAreaDirNode) return Errno.EPERM;
        if (to.Inode.Session != Session) return Errno.EXDEV;
        await Session.RenameAsync(Inode, name.ToArray(), to.Inode, newName.ToArray(), flags, ctx.SessionEnding).ConfigureAwait(false);
        return Errno.Ok;
    }
}
