using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>A node of the staging area: a <see cref="StagedInode"/> as the mount serves it, with the spool disk's statfs.</summary>
public abstract class StagedNode : Node, INodeStatistics
{
    protected StagedNode(StagingNodes nodes, StagedInode inode)
    {
        Nodes = nodes;
        Inode = inode;
    }

    public StagedInode Inode { get; }
    protected StagingNodes Nodes { get; }

    public override ulong StableInode => Inode.StableInode;
    public override ulong ParentInode => Inode.Links is [var first, ..] ? first.Parent.StableInode : StableInode;
    public override TimeSpan CacheTimeout => StagingNodes.SessionTimeout;

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) => ValueTask.FromResult(Inode.Attributes());

    public VfsResult<FileSystemStatistics> GetStatistics(int knownNodes) => Nodes.GetStatistics(knownNodes);
}
