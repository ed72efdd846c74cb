using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>A symlink inside a staging session.</summary>
public sealed class StagedLinkNode(StagingNodes nodes, StagedInode inode) : StagedEntryNode(nodes, inode), INodeLinkReader
{
    public ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLinkAsync(RequestContext ctx) =>
        ValueTask.FromResult(Inode.SymlinkTarget is { } target ? (ReadOnlyMemory<byte>)target : (VfsResult<ReadOnlyMemory<byte>>)Errno.EINVAL);
}
