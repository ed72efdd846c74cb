namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>A fifo, socket or device node inside a staging session: attributes and xattrs only (the kernel opens those itself).</summary>
public sealed class StagedSpecialNode(StagingNodes nodes, StagedInode inode) : StagedEntryNode(nodes, inode);
