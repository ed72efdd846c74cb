namespace BackupFs.FsHost.Tree;

/// <summary>
/// Node ids and lookup counts: a node gets an id when the kernel first hears of it, every
/// entry reply counts one lookup, FORGET gives them back, and at zero the node is dropped (the
/// next lookup of the same entry makes a fresh node with the same <see cref="TreeNode.StableInode"/>).
/// </summary>
public sealed class NodeTable
{
    /// <summary>One lock for ids, counts and the directories' child caches: metadata is not the hot path.</summary>
    internal static readonly object TreeLock = new();

    public const ulong RootId = 1;
    private readonly Dictionary<ulong, TreeNode> _nodes = new();
    private ulong _nextId = RootId + 1;

    public NodeTable(TreeNode root)
    {
        root.Id = RootId;
        root.LookupCount = 1; // the kernel holds the root for the whole mount
        _nodes[RootId] = root;
    }

    public int Count { get { lock (TreeLock) return _nodes.Count; } }

    public TreeNode? Get(ulong id)
    {
        lock (TreeLock) return _nodes.GetValueOrDefault(id);
    }

    /// <summary>Counts one kernel reference (an entry reply), registering the node first if needed.</summary>
    public ulong AddLookup(TreeNode node)
    {
        lock (TreeLock)
        {
            if (node.Id == 0 || !_nodes.ContainsKey(node.Id))
            {
                node.Id = _nextId++;
                _nodes[node.Id] = node;
            }
            node.LookupCount++;
            return node.Id;
        }
    }

    public void Forget(ulong id, ulong count)
    {
        TreeNode? dropped = null;
        lock (TreeLock)
        {
            if (id == RootId || !_nodes.TryGetValue(id, out var node)) return;
            node.LookupCount = count >= node.LookupCount ? 0 : node.LookupCount - count;
            if (node.LookupCount == 0)
            {
                _nodes.Remove(id);
                dropped = node;
            }
        }
        dropped?.Detached();
    }
}
