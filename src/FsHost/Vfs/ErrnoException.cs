namespace BackupFs.FsHost.Vfs;

/// <summary>An operation refused with a specific errno (EEXIST, ENOTEMPTY…): the request is answered with it, nothing is logged.</summary>
public class ErrnoException(Errno errno, string? message = null) : Exception(message ?? $"errno {errno.Code}")
{
    public Errno Errno { get; } = errno;
}
