using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Nodes;

/// <summary>
/// What an <see cref="IOpenDirectory"/> writes its entries into: the binding's reply plus the
/// host's lookup counting. In readdirplus mode every entry sent counts one lookup of its node,
/// exactly as a lookup reply would, and an entry that did not fit gives it back.
/// </summary>
public readonly struct DirectoryFiller
{
    private readonly NodeRegistry _nodes;
    private readonly DirectoryEntryWriter _writer;
    private readonly ulong _firstCookie;

    /// <param name="firstCookie">what the directory's cookie 0 is on the wire: the host's own entries ("." and "..") come before it</param>
    internal DirectoryFiller(NodeRegistry nodes, DirectoryEntryWriter writer, ulong firstCookie = 0)
    {
        _nodes = nodes;
        _writer = writer;
        _firstCookie = firstCookie;
    }

    /// <summary>True for readdirplus: entries carry attributes and the kernel keeps their nodes.</summary>
    public bool IsPlus => _writer.IsPlus;

    /// <summary>Adds <paramref name="child"/> under <paramref name="name"/>; false when the reply is full.</summary>
    public bool TryAdd(ReadOnlySpan<byte> name, Node child, in NodeAttributes attributes, ulong nextOffset)
    {
        nextOffset += _firstCookie;
        if (!_writer.IsPlus) return _writer.TryAdd(name, attributes.Inode, attributes.Mode, nextOffset);
        var timeout = child.CacheTimeout;
        var entry = new EntryInfo { NodeId = _nodes.AddLookup(child), Attributes = attributes, EntryTimeout = timeout, AttributeTimeout = timeout };
        if (_writer.TryAddPlus(name, entry, nextOffset)) return true;
        _nodes.Forget(entry.NodeId, 1); // not sent: take the count back
        return false;
    }

    /// <summary>Adds a name without a node the kernel would keep: a plain readdir entry, "." and "..",
    /// or an entry whose attributes cannot be read (stat on it then gives the error). False when the reply is full.</summary>
    public bool TryAddName(ReadOnlySpan<byte> name, ulong inode, uint mode, ulong nextOffset) =>
        _writer.TryAdd(name, inode, mode, nextOffset + _firstCookie);
}
