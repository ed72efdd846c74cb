namespace BackupFs.Datastore.Pxar;

/// <summary>
/// Bounded cache of parsed goodbye tables keyed by directory end offset, so repeated lookups in a
/// hot directory skip re-reading its table. Evicts least recently added once the item budget is spent.
/// </summary>
internal sealed class GoodbyeCache
{
    private readonly object _lock = new();
    private readonly Dictionary<long, PxarAccessor.ParsedGoodbye> _tables = [];
    private readonly Queue<long> _order = new();
    private readonly int _capacityItems;
    private int _items;

    public GoodbyeCache(int capacityItems) => _capacityItems = capacityItems;

    public bool TryGet(long key, out PxarAccessor.ParsedGoodbye table)
    {
        lock (_lock) return _tables.TryGetValue(key, out table!);
    }

    public void Add(long key, PxarAccessor.ParsedGoodbye table)
    {
        if (table.Items.Length > _capacityItems) return;
        lock (_lock)
        {
            if (_tables.ContainsKey(key)) return;
            while (_items + table.Items.Length > _capacityItems && _order.Count > 0)
            {
                var old = _order.Dequeue();
                if (_tables.Remove(old, out var removed)) _items -= removed.Items.Length;
            }
            _tables[key] = table;
            _order.Enqueue(key);
            _items += table.Items.Length;
        }
    }
}
