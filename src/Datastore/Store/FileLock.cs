using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Store;

/// <summary>
/// An exclusive, non-blocking advisory lock on a lock file (flock, which .NET takes for
/// FileShare.None). Held for as long as the object lives; the kernel drops it if the process dies.
/// </summary>
public sealed class FileLock : IDisposable
{
    private FileStream? _stream;
    public string Path { get; }

    private FileLock(string path, FileStream stream) { Path = path; _stream = stream; }

    /// <exception cref="BackupFsException">someone else holds the lock</exception>
    public static FileLock Acquire(string path, string what)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        try
        {
            var fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
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
