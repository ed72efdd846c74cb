namespace BackupFs.FsHost.Vfs;

/// <summary>The getxattr/listxattr reply rules (size query with an empty buffer, ERANGE, ENODATA) in one place.</summary>
public static class XattrReplies
{
    /// <summary>Copies an attribute's value, or answers its size / ERANGE / ENODATA (null value).</summary>
    public static VfsResult<int> Value(byte[]? value, Memory<byte> destination)
    {
        if (value is null) return Errno.ENODATA;
        if (destination.Length == 0) return value.Length;
        if (destination.Length < value.Length) return Errno.ERANGE;
        value.CopyTo(destination);
        return value.Length;
    }

    /// <summary>Copies the NUL-terminated names, or answers their total size / ERANGE.</summary>
    public static VfsResult<int> Names(IReadOnlyList<(byte[] Name, byte[] Value)> xattrs, Memory<byte> destination)
    {
        int total = 0;
        foreach (var (name, _) in xattrs) total += name.Length + 1;
        if (destination.Length == 0) return total;
        if (destination.Length < total) return Errno.ERANGE;
        int pos = 0;
        foreach (var (name, _) in xattrs)
        {
            name.CopyTo(destination[pos..]);
            pos += name.Length;
            destination.Span[pos++] = 0;
        }
        return total;
    }
}
