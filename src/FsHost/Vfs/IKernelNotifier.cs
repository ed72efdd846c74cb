namespace BackupFs.FsHost.Vfs;

/// <summary>
/// Tells the kernel that cached state changed behind its back (for trees that change while
/// mounted, like a staging area or a refreshed snapshot list). Safe to call from any thread
/// but never from inside a handler of a request on the same directory: the kernel may hold
/// that directory's lock while it waits for the reply (deadlock).
/// </summary>
public interface IKernelNotifier
{
    /// <summary>Drops cached attributes of <paramref name="nodeId"/> and its page cache in
    /// [offset, offset+length); length 0 means to the end, a negative offset drops only attributes.
    /// Returns ENOENT when the kernel does not know the node (harmless).</summary>
    Errno InvalidateNode(ulong nodeId, long offset = 0, long length = 0);

    /// <summary>Drops the cached name <paramref name="name"/> in <paramref name="parentId"/>
    /// (positive or negative dentry), so the next access looks it up again.</summary>
    Errno InvalidateEntry(ulong parentId, ReadOnlySpan<byte> name);

    /// <summary>Like <see cref="InvalidateEntry"/> but also tells the kernel that
    /// <paramref name="childId"/> under that name was deleted (unhashes open dentries).</summary>
    Errno DeleteEntry(ulong parentId, ulong childId, ReadOnlySpan<byte> name);
}
