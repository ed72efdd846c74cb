using System.Collections.Concurrent;

namespace BackupFs.FsHost.Nodes;

/// <summary>
/// The open files and directories of one mount, by the handle number the kernel echoes back.
/// Numbers count up from 1 and are never reused; what a handle can do is the object's own
/// business (<see cref="IFileReader"/>, <see cref="IOpenDirectory"/>…).
/// </summary>
internal sealed class HandleTable
{
    private readonly ConcurrentDictionary<ulong, object> _open = new();
    private long _last;

    public int Count => _open.Count;

    public ulong Add(object handle)
    {
        ulong id = (ulong)Interlocked.Increment(ref _last);
        _open[id] = handle;
        return id;
    }

    public object? Get(ulong id) => _open.TryGetValue(id, out var handle) ? handle : null;

    public object? Remove(ulong id) => _open.TryRemove(id, out var handle) ? handle : null;

    /// <summary>Empties the table (unmount), returning what was still open.</summary>
    public List<object> RemoveAll()
    {
        var all = new List<object>();
        foreach (var id in _open.Keys)
            if (_open.TryRemove(id, out var handle)) all.Add(handle);
        return all;
    }
}
