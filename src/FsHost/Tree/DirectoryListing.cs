using BackupFs.FsHost.Nodes;

namespace BackupFs.FsHost.Tree;

/// <summary>One entry of a directory listing: the name and the node it leads to.</summary>
public readonly record struct DirectoryChild(byte[] Name, Node Node);

/// <summary>
/// A directory's children as fixed at opendir, so readdir cookies (positions) stay stable. Read
/// page by page: a big archive directory is decoded only as far as readdir gets, and its entries
/// become nodes only while a page is being answered (the kernel keeps only those it is told about).
/// </summary>
public abstract class DirectoryListing
{
    public abstract int Count { get; }

    /// <summary>Children [start, start + count) (fewer at the end), sorted like the listing.</summary>
    public abstract ValueTask<IReadOnlyList<DirectoryChild>> PageAsync(int start, int count, CancellationToken ct);
}

/// <summary>A listing of nodes already in memory (datastore-level directories).</summary>
public sealed class NodeListing(IReadOnlyList<DirectoryChild> children) : DirectoryListing
{
    public static NodeListing Of(IReadOnlyList<TreeNode> nodes)
    {
        var children = new DirectoryChild[nodes.Count];
        for (int i = 0; i < children.Length; i++) children[i] = new DirectoryChild(nodes[i].Name, nodes[i]);
        return new NodeListing(children);
    }

    public override int Count => children.Count;

    public override ValueTask<IReadOnlyList<DirectoryChild>> PageAsync(int start, int count, CancellationToken ct)
    {
        if (start == 0 && count >= children.Count) return ValueTask.FromResult(children);
        int end = (int)Math.Min(children.Count, (long)start + count);
        var page = new DirectoryChild[Math.Max(0, end - start)];
        for (int i = start; i < end; i++) page[i - start] = children[i];
        return ValueTask.FromResult<IReadOnlyList<DirectoryChild>>(page);
    }
}
