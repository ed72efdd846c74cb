namespace BackupFs.Datastore.Platform;

/// <summary>
/// Deletes by a path relative to a trusted root, through <see cref="DirectoryHandle"/>: no component below
/// the root may be a symlink, and a directory tree is removed without following any symlink in it. The
/// one way BackupFs deletes anything inside a datastore.
/// </summary>
public static class SafeDelete
{
    /// <summary>Deletes root/relative and everything below it. False when it does not exist.</summary>
    /// <exception cref="UnsafePathException">a component (or the target) is a symlink, or a parent is not a directory</exception>
    public static bool Tree(string root, string relative)
    {
        var (parent, name) = Split(relative);
        using var dir = DirectoryHandle.OpenBelow(root, parent);
        return dir is not null && dir.DeleteTree(name);
    }

    /// <summary>Unlinks the non-directory root/relative (a symlink itself, never its target). False when absent.</summary>
    public static bool File(string root, string relative)
    {
        var (parent, name) = Split(relative);
        using var dir = DirectoryHandle.OpenBelow(root, parent);
        return dir is not null && dir.DeleteFile(name);
    }

    /// <summary>Splits "a/b/c" into ("a/b", "c").</summary>
    public static (string Parent, string Name) Split(string relative)
    {
        var trimmed = relative.Trim('/');
        if (trimmed.Length == 0) throw new ArgumentException("refusing to delete the root itself", nameof(relative));
        int slash = trimmed.LastIndexOf('/');
        return slash < 0 ? ("", trimmed) : (trimmed[..slash], trimmed[(slash + 1)..]);
    }
}
