using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Chunks;

/// <summary>
/// Least-recently-used order of the chunks held in full in the local cache, bounded by a number
/// of chunks. Adding beyond the capacity returns the chunks to evict (they become 0-byte markers).
/// </summary>
internal sealed class ChunkLru
{
    private readonly LinkedList<Digest> _order = new();   // first = most recently used
    private readonly Dictionary<Digest, LinkedListNode<Digest>> _nodes = new();
    private readonly Lock _lock = new();

    public long Capacity { get; }

    public ChunkLru(long capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), "the cache holds at least one chunk");
        Capacity = capacity;
    }

    public int Count { get { lock (_lock) return _nodes.Count; } }

    public bool Contains(Digest digest) { lock (_lock) return _nodes.ContainsKey(digest); }

    /// <summary>Marks a chunk as just used; false when it is not tracked.</summary>
    public bool Touch(Digest digest)
    {
        lock (_lock)
        {
            if (!_nodes.TryGetValue(digest, out var node)) return false;
            _order.Remove(node);
            _order.AddFirst(node);
            return true;
        }
    }

    /// <summary>Tracks a chunk as most recently used and returns the chunks pushed out (least recent first).</summary>
    public List<Digest> Add(Digest digest)
    {
        var evicted = new List<Digest>();
        lock (_lock)
        {
            if (_nodes.TryGetValue(digest, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                return evicted;
            }
            _nodes[digest] = _order.AddFirst(digest);
            while (_nodes.Count > Capacity)
            {
                var last = _order.Last!;
                _order.RemoveLast();
                _nodes.Remove(last.Value);
                evicted.Add(last.Value);
            }
        }
        return evicted;
    }

    /// <summary>Forgets a chunk (removed or renamed as corrupt).</summary>
    public void Remove(Digest digest)
    {
        lock (_lock)
            if (_nodes.Remove(digest, out var node)) _order.Remove(node);
    }
}
