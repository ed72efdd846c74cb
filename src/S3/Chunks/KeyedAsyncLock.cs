namespace BackupFs.S3.Chunks;

/// <summary>
/// One async mutex per key, created on demand and dropped when nobody holds or waits for it:
/// serialises work on the same chunk digest while different digests proceed in parallel.
/// </summary>
internal sealed class KeyedAsyncLock<TKey> where TKey : notnull
{
    internal sealed class Entry { public readonly SemaphoreSlim Gate = new(1, 1); public int Users; }

    private readonly Dictionary<TKey, Entry> _entries = new();

    public int ActiveKeys { get { lock (_entries) return _entries.Count; } }

    public async ValueTask<Releaser> AcquireAsync(TKey key, CancellationToken ct = default)
    {
        Entry entry;
        lock (_entries)
        {
            if (!_entries.TryGetValue(key, out entry!)) _entries[key] = entry = new Entry();
            entry.Users++;
        }
        try
        {
            await entry.Gate.WaitAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            Leave(key, entry);
            throw;
        }
        return new Releaser(this, key, entry);
    }

    /// <summary>Takes the lock only if nobody holds or waits for it (GC skips chunks in use).</summary>
    public bool TryAcquire(TKey key, out Releaser releaser)
    {
        Entry entry;
        lock (_entries)
        {
            if (!_entries.TryGetValue(key, out entry!)) _entries[key] = entry = new Entry();
            entry.Users++;
        }
        if (entry.Gate.Wait(0))
        {
            releaser = new Releaser(this, key, entry);
            return true;
        }
        Leave(key, entry);
        releaser = default;
        return false;
    }

    private void Leave(TKey key, Entry entry)
    {
        lock (_entries)
            if (--entry.Users == 0) _entries.Remove(key);
    }

    public readonly struct Releaser : IDisposable
    {
        private readonly KeyedAsyncLock<TKey> _owner;
        private readonly TKey _key;
        private readonly Entry _entry;
        internal Releaser(KeyedAsyncLock<TKey> owner, TKey key, Entry entry) { _owner = owner; _key = key; _entry = entry; }
        public void Dispose()
        {
            _entry.Gate.Release();
            _owner.Leave(_key, _entry);
        }
    }
}
