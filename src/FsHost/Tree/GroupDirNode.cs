using System.Text;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// A backup group: one directory per finished snapshot (unfinished ones stay hidden) and a
/// "latest" symlink to the newest. Listed from disk each time, so new snapshots appear.
/// </summary>
public sealed class GroupDirNode : DirectoryNode
{
    private readonly TreeContext _ctx;
    public BackupGroup Group { get; }

    public GroupDirNode(TreeContext ctx, DirectoryNode parent, BackupGroup group) : base(parent, Encoding.UTF8.GetBytes(group.Id))
    {
        _ctx = ctx;
        Group = group;
    }

    public override ulong StableInode => StableInodes.Of("group:" + Group.RelativePath);
    public override bool Immutable => false;

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(TreeContext.DirectoryAttributes(StableInode, TreeContext.DirectoryTime(_ctx.Store.FullPath(Group.RelativePath))));

    public override async ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct)
    {
        await _ctx.FollowAsync(FollowedDirectory.Group, Group.RelativePath, this, ct).ConfigureAwait(false);
        var snapshots = _ctx.Store.ListFinishedSnapshots(Group);
        var children = new List<TreeNode>();
        foreach (var s in snapshots)
            children.Add(Child(Encoding.ASCII.GetBytes(s.TimeName), () => new SnapshotDirNode(_ctx, this, s)));
        if (snapshots.Count > 0)
        {
            var newest = snapshots[^1].TimeName;
            children.Add(Child("latest"u8.ToArray(), () => new LatestLinkNode(this, newest),
                stillValid: n => ((LatestLinkNode)n).Target == newest));
        }
        children.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return children;
    }

    public override ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct)
    {
        var owner = _ctx.Store.GetOwner(Group);
        IReadOnlyList<(byte[], byte[])> list = owner is null ? [] : [("user.backupfs.owner"u8.ToArray(), Encoding.UTF8.GetBytes(owner))];
        return ValueTask.FromResult(list);
    }
}

/// <summary>"latest": a relative symlink to the group's newest finished snapshot.</summary>
public sealed class LatestLinkNode : LinkNode
{
    public string Target { get; }
    private readonly GroupDirNode _group;

    public LatestLinkNode(GroupDirNode group, string target) : base(group, "latest"u8.ToArray())
    {
        _group = group;
        Target = target;
    }

    public override ulong StableInode => StableInodes.Of("latest:" + _group.Group.RelativePath + "/" + Target);
    public override bool Immutable => false;

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct)
    {
        var t = new Timestamp(Datastore.Layout.NameRules.ParseBackupTime(Target), 0);
        return ValueTask.FromResult(new NodeAttributes
        {
            Inode = StableInode, Mode = FileModes.Symlink | 0x1FF, LinkCount = 1, Size = (ulong)Target.Length,
            ModificationTime = t, ChangeTime = t, AccessTime = t,
        });
    }

    public override ValueTask<byte[]> ReadTargetAsync(CancellationToken ct) => ValueTask.FromResult(Encoding.ASCII.GetBytes(Target));
}
