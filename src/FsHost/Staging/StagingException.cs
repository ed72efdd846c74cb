using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>A staging operation refused with an errno (EEXIST, ENOTEMPTY…); the FUSE surface replies with it.</summary>
public sealed class StagingException(Errno errno, string? message = null) : ErrnoException(errno, message);
