using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Platform;

/// <summary>
/// A path inside a datastore is not what the layout says it is: a symlink, or not a directory, or not a
/// regular file, or too large. BackupFs refuses to delete through it, write through it or read it.
/// </summary>
public sealed class UnsafePathException : BackupFsException
{
    public UnsafePathException(string message) : base(message) { }
}
