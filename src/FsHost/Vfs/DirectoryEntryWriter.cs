namespace BackupFs.FsHost.Vfs;

/// <summary>
/// Where readdir puts its entries: a window onto the binding's reply buffer. Offsets are
/// cookies the filesystem chooses: each entry carries the cookie of the entry after it, and
/// the kernel sends that cookie back as the offset of the next readdir. Cookies must stay
/// stable while entries are added or removed. Return from readdir when a Try method answers
/// false (the buffer is full), or when the listing ends (an empty reply means end).
/// </summary>
public abstract class DirectoryEntryWriter
{
    /// <summary>True for readdirplus: entries should carry full attributes through
    /// <see cref="TryAddPlus"/>.</summary>
    public abstract bool IsPlus { get; }

    /// <summary>Number of entries written so far in this reply.</summary>
    public abstract int Count { get; }

    /// <summary>Adds a name with its inode number and type (st_mode bits; only the type matters).
    /// In plus mode this writes an entry the kernel does not instantiate (no lookup count).</summary>
    public abstract bool TryAdd(ReadOnlySpan<byte> name, ulong inode, uint mode, ulong nextOffset);

    /// <summary>Adds a name with a full entry (readdirplus). When this returns true and
    /// <c>entry.NodeId != 0</c>, the node's lookup count grows by one, exactly as for a lookup.
    /// Outside plus mode it behaves like <see cref="TryAdd"/>. "." and ".." should go through
    /// <see cref="TryAdd"/>, as the kernel ignores their attributes.</summary>
    public abstract bool TryAddPlus(ReadOnlySpan<byte> name, in EntryInfo entry, ulong nextOffset);
}
