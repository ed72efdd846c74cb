using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>
/// The staging area as one mount serves it: makes the node of each staged inode (one per inode,
/// on first use), answers statfs for it, and tells the kernel when a change behind its back (a
/// discard, writes lost to a full disk) makes its caches wrong.
/// </summary>
public sealed class StagingNodes
{
    /// <summary>Inside sessions every change comes through the kernel, so its caches stay right: cache long
    /// (each request saved is a round trip per file for rsync). Discard tells the kernel itself.</summary>
    internal static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(30);
    /// <summary>Above sessions, groups appear when other backups run.</summary>
    internal static readonly TimeSpan VirtualTimeout = TimeSpan.FromSeconds(1);

    public StagingNodes(StagingArea area)
    {
        Area = area;
        Root = For(area.Root);
    }

    public StagingArea Area { get; }

    /// <summary>MOUNTPOINT/staging.</summary>
    public StagedNode Root { get; }

    /// <summary>Set once the kernel connection is up.</summary>
    public IKernelNotifier? Notifier { get; set; }

    /// <summary>The node of <paramref name="inode"/>, made on first use by what the inode is.</summary>
    public StagedNode For(StagedInode inode)
    {
        if (Volatile.Read(ref inode.MountNode) is { } known) return known;
        StagedNode made = inode.Role switch
        {
            StagedRole.Virtual => new StagingAreaDirNode(this, inode),
            StagedRole.SessionRoot => new StagedSessionNode(this, inode),
            _ => inode.FileType switch
            {
                FileModes.Directory => new StagedDirNode(this, inode),
                FileModes.Regular => new StagedFileNode(this, inode),
                FileModes.Symlink => new StagedLinkNode(this, inode),
                _ => new StagedSpecialNode(this, inode),
            },
        };
        return Interlocked.CompareExchange(ref inode.MountNode, made, null) ?? made;
    }

    /// <summary>The kernel's id of <paramref name="inode"/>; 0 when it has not seen it.</summary>
    private static ulong NodeIdOf(StagedInode inode) => Volatile.Read(ref inode.MountNode)?.NodeId ?? 0;

    /// <summary>The disk holding the spool files.</summary>
    public VfsResult<FileSystemStatistics> GetStatistics(int knownNodes)
    {
        var drive = new DriveInfo(Area.Context.Store.PrivateDir);
        const uint block = 4096;
        return new FileSystemStatistics((ulong)drive.TotalSize / block, (ulong)drive.TotalFreeSpace / block,
            (ulong)drive.AvailableFreeSpace / block, (ulong)knownNodes, 1UL << 32, block);
    }

    /// <summary>
    /// After a discard the session's tree is the base again: the kernel must drop what it cached
    /// below it. Done after the reply (the kernel may hold the directory while it waits for it).
    /// </summary>
    public void ForgetCachedTree(StagedInode sessionRoot)
    {
        if (Notifier is not { } notifier || sessionRoot.FirstLink is not { Parent: { } parent } link) return;
        _ = Task.Run(async () =>
        {
            await Task.Delay(50).ConfigureAwait(false);
            if (NodeIdOf(parent) is > 0 and var parentId) notifier.InvalidateEntry(parentId, link.Name);
            if (NodeIdOf(sessionRoot) is > 0 and var rootId) notifier.InvalidateNode(rootId, -1);
        });
    }

    /// <summary>
    /// After writes were lost to a full spool disk: with the writeback cache the kernel keeps the
    /// size its cached writes gave the file while it holds the inode, whatever getattr says. Drop
    /// its names and pages so the inode goes once unused, and the next lookup shows the stored size.
    /// </summary>
    public void ForgetCachedSize(StagedInode inode)
    {
        if (Notifier is not { } notifier) return;
        var links = inode.Links.Select(l => (Parent: NodeIdOf(l.Parent), l.Name)).ToList();
        ulong id = NodeIdOf(inode);
        _ = Task.Run(async () =>
        {
            await Task.Delay(50).ConfigureAwait(false);
            if (id != 0) notifier.InvalidateNode(id, 0);
            foreach (var (parent, name) in links)
                if (parent != 0) notifier.InvalidateEntry(parent, name);
        });
    }
}
