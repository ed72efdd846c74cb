namespace BackupFs.FsHost.Tree;

/// <summary>
/// A directory's children as fixed at opendir, so readdir cookies (positions) stay stable. Read
/// page by page: a big archive directory is decoded only as far as readdir gets, and its entries
/// become nodes only while a page is being answered (the kernel keeps only those it is told about).
/// </summary>
public abstract class DirectoryListing
{
    public abstract int Count { get; }

    /// <summary>Children [start, start + count) (fewer at the end), sorted like the listing.</summary>
    public abstract ValueTask<IReadOnlyList<TreeNode>> PageAsync(int start, int count, CancellationToken ct);
}

/// <summary>A listing of nodes already in memory (datastore-level directories).</summary>
public sealed class NodeListing(IReadOnlyList<TreeNode> nodes) : DirectoryListing
{
    public override int Count => nodes.Count;

    public override ValueTask<IReadOnlyList<TreeNode>> PageAsync(int start, int count, CancellationToken ct)
    {
        if (start == 0 && count >= nodes.Count) return ValueTask.FromResult(nodes);
        int end = (int)Math.Min(nodes.Count, (long)start + count);
        var page = new TreeNode[Math.Max(0, end - start)];
        for (int i = start; i < end; i++) page[i - start] = nodes[i];
        return ValueTask.FromResult<IReadOnlyList<TreeNode>>(page);
    }
}
