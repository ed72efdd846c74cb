using System.Text;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// The mount root or a namespace: its group type directories (ct, host, vm), "ns" when it has
/// child namespaces, and at the root the reserved "staging" directory: the staging area's own
/// node when the mount has one, else an empty read-only directory.
/// </summary>
public sealed class NamespaceDirNode : DirectoryNode
{
    private readonly TreeContext _ctx;
    public BackupNamespace Namespace { get; }

    public NamespaceDirNode(TreeContext ctx, DirectoryNode? parent, byte[] name, BackupNamespace ns) : base(parent, name, ctx)
    {
        _ctx = ctx;
        Namespace = ns;
    }

    public override ulong StableInode => Namespace.IsRoot ? NodeHost.RootId : StableInodes.Of("ns:" + Namespace.RelativePath);
    public override bool Immutable => false;

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(TreeContext.DirectoryAttributes(StableInode, TreeContext.DirectoryTime(_ctx.Store.FullPath(Namespace.RelativePath))));

    public override async ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct)
    {
        await _ctx.FollowAsync(FollowedDirectory.Namespace, Namespace.RelativePath, this, ct).ConfigureAwait(false);
        var children = new List<TreeNode>();
        var dir = _ctx.Store.FullPath(Namespace.RelativePath);
        foreach (var type in BackupTypes.All)
            if (Directory.Exists(Path.Combine(dir, type.ToName())))
                children.Add(Child(Encoding.ASCII.GetBytes(type.ToName()), () => new TypeDirNode(_ctx, this, Namespace, type)));
        if (_ctx.Store.ListNamespaces(Namespace).Any())
            children.Add(Child("ns"u8.ToArray(), () => new NamespaceListNode(_ctx, this, Namespace)));
        if (Namespace.IsRoot && _ctx.StagingRoot is null)
            children.Add(Child(StagingName, () => new StagingPlaceholderNode(this)));
        children.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return children;
    }

    private static readonly byte[] StagingName = "staging"u8.ToArray();

    /// <summary>The tree's children, and at the root of a writable mount the staging area.</summary>
    public override async ValueTask<DirectoryListing> OpenListingAsync(CancellationToken ct)
    {
        var tree = await ListAsync(ct).ConfigureAwait(false);
        if (!Namespace.IsRoot || _ctx.StagingRoot is not { } staging) return NodeListing.Of(tree);
        var children = tree.Select(n => new DirectoryChild(n.Name, n)).Append(new DirectoryChild(StagingName, staging)).ToList();
        children.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return new NodeListing(children);
    }

    public override ValueTask<Node?> LookupAsync(byte[] name, CancellationToken ct) =>
        Namespace.IsRoot && _ctx.StagingRoot is { } staging && name.AsSpan().SequenceEqual(StagingName)
            ? ValueTask.FromResult<Node?>(staging)
            : base.LookupAsync(name, ct);

    /// <summary>At the root of a mount that follows a bucket: user.backupfs.s3-follow, its request counts.</summary>
    public override ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct)
    {
        if (!Namespace.IsRoot || _ctx.Follower is not { } follower) return base.GetXattrsAsync(ct);
        var s = follower.Stats;
        var text = $"lists={s.Lists} gets={s.Gets} refreshes={s.Refreshes} failures={s.Failures} writes={s.Writes}";
        return ValueTask.FromResult<IReadOnlyList<(byte[], byte[])>>([("user.backupfs.s3-follow"u8.ToArray(), Encoding.ASCII.GetBytes(text))]);
    }
}

/// <summary>The "ns" directory of a namespace: one directory per child namespace.</summary>
public sealed class NamespaceListNode : DirectoryNode
{
    private readonly TreeContext _ctx;
    private readonly BackupNamespace _parentNs;

    public NamespaceListNode(TreeContext ctx, DirectoryNode parent, BackupNamespace parentNs) : base(parent, "ns"u8.ToArray())
    {
        _ctx = ctx;
        _parentNs = parentNs;
    }

    public override ulong StableInode => StableInodes.Of("nslist:" + _parentNs.RelativePath);
    public override bool Immutable => false;

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(TreeContext.DirectoryAttributes(StableInode,
            TreeContext.DirectoryTime(Path.Combine(_ctx.Store.FullPath(_parentNs.RelativePath), "ns"))));

    public override async ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct)
    {
        await _ctx.FollowAsync(FollowedDirectory.NamespaceList, BackupGroupPath.Join(_parentNs.RelativePath, "ns"), this, ct).ConfigureAwait(false);
        return _ctx.Store.ListNamespaces(_parentNs)
            .Select(ns => Child(Encoding.ASCII.GetBytes(ns.Name), () => new NamespaceDirNode(_ctx, this, Encoding.ASCII.GetBytes(ns.Name), ns)))
            .ToList();
    }
}

/// <summary>"vm", "ct" or "host" in a namespace: one directory per group.</summary>
public sealed class TypeDirNode : DirectoryNode
{
    private readonly TreeContext _ctx;
    private readonly BackupNamespace _ns;
    private readonly BackupType _type;

    public TypeDirNode(TreeContext ctx, DirectoryNode parent, BackupNamespace ns, BackupType type)
        : base(parent, Encoding.ASCII.GetBytes(type.ToName()))
    {
        _ctx = ctx;
        _ns = ns;
        _type = type;
    }

    private string RelativePath => BackupGroupPath.Join(_ns.RelativePath, _type.ToName());
    public override ulong StableInode => StableInodes.Of("type:" + RelativePath);
    public override bool Immutable => false;

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(TreeContext.DirectoryAttributes(StableInode, TreeContext.DirectoryTime(_ctx.Store.FullPath(RelativePath))));

    public override async ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct)
    {
        await _ctx.FollowAsync(FollowedDirectory.Type, RelativePath, this, ct).ConfigureAwait(false);
        return _ctx.Store.ListGroups(_ns).Where(g => g.Type == _type)
            .Select(g => Child(Encoding.UTF8.GetBytes(g.Id), () => new GroupDirNode(_ctx, this, g)))
            .OrderBy(n => n.Name, ByteOrder.Instance)
            .ToList();
    }
}

/// <summary>Joins datastore-relative paths.</summary>
internal static class BackupGroupPath
{
    public static string Join(string a, string b) => a.Length == 0 ? b : a + "/" + b;
}

/// <summary>Orders names by raw bytes, as readdir listings here are sorted.</summary>
internal sealed class ByteOrder : IComparer<byte[]>
{
    public static readonly ByteOrder Instance = new();
    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
}

/// <summary>The "staging" directory of a mount without staging (--read-only): empty and read-only.</summary>
public sealed class StagingPlaceholderNode : DirectoryNode
{
    public StagingPlaceholderNode(DirectoryNode parent) : base(parent, "staging"u8.ToArray()) { }
    public override ulong StableInode => StableInodes.Of("staging");
    public override bool Immutable => false;
    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(TreeContext.DirectoryAttributes(StableInode, default));
    public override ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct) =>
        ValueTask.FromResult<IReadOnlyList<TreeNode>>([]);
}
