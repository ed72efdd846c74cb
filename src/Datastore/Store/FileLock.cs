using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Store;

/// <summary>
/// A non-blocking advisory lock on a lock file (flock: .NET takes LOCK_EX for FileShare.None and
/// LOCK_SH otherwise). Held for as long as the object lives; the kernel drops it if the process dies.
/// </summary>
public sealed class FileLock : IDisposable
{
    private FileStream? _stream;
    public string Path { get; }

    private FileLock(string path, FileStream stream) { Path = path; _stream = stream; }

    /// <summary>An exclusive lock.</summary>
    /// <exception cref="BackupFsException">someone else holds the lock</exception>
    public static FileLock Acquire(string path, string what) => Open(path, what, FileShare.None);

    /// <summary>A shared lock: any number of holders, but none while someone holds it exclusively.</summary>
    /// <exception cref="BackupFsException">someone holds the lock exclusively</exception>
    public static FileLock AcquireShared(string path, string what) => Open(path, what, FileShare.ReadWrite);

    /// <summary>Like <see cref="Acquire"/>, retrying for a while: for short critical sections such as a manifest rewrite.</summary>
    public static async Task<FileLock> AcquireWithRetryAsync(string path, string what, TimeSpan patience, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            try { return Acquire(path, what); }
            catch (BackupFsException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, ct).ConfigureAwait(false);
            }
        }
    }

    private static FileLock Open(string path, string what, FileShare share)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        try
        {
            var fs = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = share,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite, // private state: 0600 from the start
            });
            return new FileLock(path, fs);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new BackupFsException($"{what} is locked by another operation (lock file {path})", e);
        }
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
    }
}
