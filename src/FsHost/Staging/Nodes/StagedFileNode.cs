using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>A regular file inside a staging session: each open gets its own <see cref="StagedOpenFile"/>.</summary>
public sealed class StagedFileNode(StagingNodes nodes, StagedInode inode) : StagedEntryNode(nodes, inode), INodeOpener
{
    public async ValueTask<VfsResult<OpenedFile>> OpenAsync(RequestContext ctx, int flags)
    {
        var handle = await Session.OpenAsync(Inode, flags, ctx.SessionEnding).ConfigureAwait(false);
        return handle.IsOk ? new OpenedFile(new StagedOpenFile(Nodes, handle.Value)) : handle.Error;
    }
}
