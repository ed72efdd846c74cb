using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;
using BackupFs.FsHost.Vfs;
using Errno = BackupFs.FsHost.Vfs.Errno;

namespace BackupFs.FsHost.Nodes;

/// <summary>
/// The one translation from a failed node operation to the errno the request is answered with.
/// A refusal carries its errno; a full disk stays ENOSPC (or EDQUOT); a denied file access is
/// EACCES; an encrypted snapshot without its key EACCES with one line naming the key; corrupt or
/// unreadable data EIO with one (rate-limited) log line; anything else EIO with one line.
/// </summary>
public sealed class ErrnoMapper(MountErrorLog log)
{
    private const int ENOSPC = 28, EDQUOT = 122;

    public MountErrorLog Log { get; } = log;

    public Errno Map(string operation, Exception e)
    {
        switch (e)
        {
            case ErrnoException refused: return refused.Errno;
            case OperationCanceledException: return Errno.EINTR;
            case EncryptedDataException: Log.ReportOnce(e.Message); return Errno.EACCES; // one line per snapshot, naming the key it needs
            case IOException io when ErrnoOf(io) is ENOSPC or EDQUOT: return new Errno(ErrnoOf(io));
            case UnauthorizedAccessException: Log.Report(operation, e); return Errno.EACCES;
            case BackupFsException or IOException or InvalidDataException: Log.Report(operation, e); return Errno.EIO;
            default: Log.Report(operation + " (unexpected)", e); return Errno.EIO;
        }
    }

    /// <summary>The errno behind an I/O failure: ours carry it; .NET puts it in HResult for the
    /// IOExceptions it raises from failed system calls on Unix.</summary>
    private static int ErrnoOf(IOException e) => e is PosixException posix ? posix.Errno : e.HResult;
}
