namespace BackupFs.FsHost.Nodes;

/// <summary>
/// Node ids and lookup counts of one mount: a node gets an id when the kernel first hears of it,
/// every entry reply counts one lookup, FORGET gives them back, and at zero the node is dropped
/// (the next lookup of the same entry may make a fresh node with the same
/// <see cref="Node.StableInode"/>, and it gets a fresh id). Ids are never reused.
/// </summary>
internal sealed class NodeRegistry
{
    public const ulong RootId = 1;
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Node> _nodes = new();
    private ulong _nextId = RootId + 1;

    public NodeRegistry(Node root)
    {
        root.NodeId = RootId;
        root.LookupCount = 1; // the kernel holds the root for the whole mount
        _nodes[RootId] = root;
    }

    public int Count { get { lock (_lock) return _nodes.Count; } }

    public Node? Get(ulong id)
    {
        lock (_lock) return _nodes.GetValueOrDefault(id);
    }

    /// <summary>Counts one kernel reference (an entry reply), registering the node first if needed.</summary>
    public ulong AddLookup(Node node)
    {
        lock (_lock)
        {
            if (node.NodeId == 0 || !(_nodes.TryGetValue(node.NodeId, out var known) && ReferenceEquals(known, node)))
            {
                node.NodeId = _nextId++;
                node.LookupCount = 0;
                _nodes[node.NodeId] = node;
            }
            node.LookupCount++;
            return node.NodeId;
        }
    }

    public void Forget(ulong id, ulong count)
    {
        Node? dropped = null;
        lock (_lock)
        {
            if (id == RootId || !_nodes.TryGetValue(id, out var node)) return;
            node.LookupCount = count >= node.LookupCount ? 0 : node.LookupCount - count;
            if (node.LookupCount == 0)
            {
                _nodes.Remove(id);
                dropped = node;
            }
        }
        dropped?.Forgotten();
    }
}
