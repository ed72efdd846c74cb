using System.Collections.Concurrent;

namespace BackupFs.FsHost.Fuse;

/// <summary>Reuses request slots so the read path allocates nothing once warmed up. Keeps at
/// most <c>maxIdle</c> idle slots; extra slots (after a burst of waiting reads) are freed.</summary>
internal sealed class SlotPool : IDisposable
{
    private readonly ConcurrentBag<RequestSlot> _idle = new();
    private readonly Func<RequestSlot> _factory;
    private readonly int _maxIdle;
    private int _idleCount;
    private bool _disposed;

    public SlotPool(Func<RequestSlot> factory, int maxIdle) { _factory = factory; _maxIdle = maxIdle; }

    public RequestSlot Rent()
    {
        if (_idle.TryTake(out var slot)) { Interlocked.Decrement(ref _idleCount); return slot; }
        return _factory();
    }

    public void Return(RequestSlot slot)
    {
        if (Volatile.Read(ref _disposed) || Interlocked.Increment(ref _idleCount) > _maxIdle)
        {
            if (!Volatile.Read(ref _disposed)) Interlocked.Decrement(ref _idleCount);
            slot.Dispose();
            return;
        }
        _idle.Add(slot);
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        while (_idle.TryTake(out var slot)) slot.Dispose();
    }
}
