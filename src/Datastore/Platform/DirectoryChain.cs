namespace BackupFs.Datastore.Platform;

/// <summary>
/// The open directories from a walk's root down to where it is, with a bounded number of open
/// descriptors: deep walks (100,000 levels) would exhaust the file limit, so only the root and the
/// <see cref="MaxOpen"/> deepest levels stay open. A closed level is reopened through ".." of its
/// child when the walk climbs back to it, and must be the same directory (device, inode) it was.
/// </summary>
public sealed class DirectoryChain : IDisposable
{
    public const int MaxOpen = 128;
    private readonly List<(DirectoryHandle? Handle, (ulong Dev, ulong Ino) Id)> _levels = [];

    public int Depth => _levels.Count;
    /// <summary>The deepest directory (always open).</summary>
    public DirectoryHandle Top => _levels[^1].Handle!;
    /// <summary>The walk's root (always open).</summary>
    public DirectoryHandle Root => _levels[0].Handle!;

    /// <summary>Takes ownership of <paramref name="handle"/> as the new deepest level.</summary>
    public void Push(DirectoryHandle handle)
    {
        _levels.Add((handle, handle.Stat(""u8).FileId));
        int close = _levels.Count - 1 - MaxOpen;
        if (close > 0 && _levels[close].Handle is { } old)
        {
            old.Dispose();
            _levels[close] = (null, _levels[close].Id);
        }
    }

    /// <summary>Closes the deepest level; its parent becomes the top (reopened if it was closed).</summary>
    public void Pop()
    {
        var (child, _) = _levels[^1];
        _levels.RemoveAt(_levels.Count - 1);
        try
        {
            if (_levels.Count > 0 && _levels[^1].Handle is null)
            {
                var parent = child!.OpenDirectory(".."u8);
                var id = _levels[^1].Id;
                if (parent.Stat(""u8).FileId != id)
                {
                    parent.Dispose();
                    throw new IOException("a directory was moved while the tree was walked (its parent is no longer the same directory)");
                }
                _levels[^1] = (parent, id);
            }
        }
        finally { child?.Dispose(); }
    }

    public void Dispose()
    {
        foreach (var (handle, _) in _levels) handle?.Dispose();
        _levels.Clear();
    }
}
