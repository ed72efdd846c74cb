using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.Datastore.Store;

/// <summary>
/// An advisory flock on a lock file or a directory, as PBS takes its group, snapshot and manifest
/// locks: a lock file is opened read-write (created 0660 if missing, never through a symlink) and,
/// once locked, checked to still be the file its path names (a lock on a file someone removed
/// meanwhile would exclude nobody). Held for as long as the object lives; the kernel drops it when
/// the process dies.
/// </summary>
public sealed class FileLock : IDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(20);
    private SafeFileHandle? _handle;
    public string Path { get; }

    private FileLock(string path, SafeFileHandle handle) { Path = path; _handle = handle; }

    /// <summary>An exclusive lock on a lock file, without waiting.</summary>
    /// <exception cref="BackupFsException">someone else holds the lock</exception>
    public static FileLock Acquire(string path, string what) => LockFile(path, what, exclusive: true);

    /// <summary>A shared lock: any number of holders, but none while someone holds it exclusively.</summary>
    /// <exception cref="BackupFsException">someone holds the lock exclusively</exception>
    public static FileLock AcquireShared(string path, string what) => LockFile(path, what, exclusive: false);

    /// <summary>Like <see cref="Acquire"/>, retrying for a while: for short critical sections such as a manifest rewrite.</summary>
    public static Task<FileLock> AcquireWithRetryAsync(string path, string what, TimeSpan patience, CancellationToken ct = default) =>
        RetryAsync(() => LockFile(path, what, exclusive: true), patience, ct);

    /// <summary>Retries <paramref name="attempt"/> while it reports a busy lock, up to <paramref name="patience"/>.</summary>
    public static async Task<FileLock> RetryAsync(Func<FileLock> attempt, TimeSpan patience, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            try { return attempt(); }
            catch (LockBusyException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(RetryInterval, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Locks a lock file (created with its parent directories, handed to <paramref name="owner"/> when given).</summary>
    /// <exception cref="LockBusyException">someone holds a conflicting lock</exception>
    public static FileLock LockFile(string path, string what, bool exclusive, LockFileOwner? owner = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            SafeFileHandle handle;
            try
            {
                CreateParents(System.IO.Path.GetDirectoryName(path)!, owner);
                handle = PosixLocking.OpenLockFile(path, 0b110_110_000);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new BackupFsException($"{what}: cannot open the lock file {path}: {e.Message} (PBS's lock directory needs root or the backup user)", e);
            }
            try
            {
                if (owner is { } o) PosixLocking.TryChown(handle, o.Uid, o.Gid);
                if (!TryFlockBriefly(handle, exclusive))
                    throw new LockBusyException($"{what} is locked by another operation (lock file {path})");
                // The holder we waited for may have removed the file (PBS removes snapshot locks with the snapshot).
                if (PosixLocking.InodeOfPath(path) == PosixLocking.Inode(handle)) return new FileLock(path, handle);
                if (attempt >= 3) throw new LockBusyException($"{what}: the lock file {path} keeps being replaced by another process");
            }
            catch
            {
                handle.Dispose();
                throw;
            }
            handle.Dispose();
        }
    }

    /// <summary>
    /// A non-blocking flock, tried again twice within ~30 ms. A process forked by this one (any child
    /// started while the lock was held) shares the lock until its exec closes the descriptor, so a lock
    /// this process just released can look busy for that instant; a real holder holds far longer.
    /// </summary>
    private static bool TryFlockBriefly(SafeFileHandle handle, bool exclusive)
    {
        for (int attempt = 0; ; attempt++)
        {
            if (PosixLocking.TryFlock(handle, exclusive)) return true;
            if (attempt == 2) return false;
            Thread.Sleep(10 << attempt);
        }
    }

    /// <summary>Locks an existing directory itself (PBS's old in-directory locks of groups and snapshots).</summary>
    /// <exception cref="LockBusyException">someone holds a conflicting lock</exception>
    public static FileLock LockDirectory(string path, string what, bool exclusive)
    {
        SafeFileHandle handle;
        try { handle = PosixLocking.OpenDirectory(path); }
        catch (PosixException e) { throw new BackupFsException($"{what}: cannot open {path} to lock it: {e.Message}", e); }
        try
        {
            if (!TryFlockBriefly(handle, exclusive))
                throw new LockBusyException($"{what} is locked by another operation (directory {path})");
            return new FileLock(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static void CreateParents(string dir, LockFileOwner? owner)
    {
        if (Directory.Exists(dir)) return;
        var parent = System.IO.Path.GetDirectoryName(dir);
        if (parent is not null && parent != dir) CreateParents(parent, owner);
        try { Directory.CreateDirectory(dir); }
        catch (IOException) when (Directory.Exists(dir)) { }
        if (owner is { } o)
            try { Posix.LChown(Posix.PathBytes(dir), (uint)o.Uid, (uint)o.Gid); } catch (PosixException) { }
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}

/// <summary>A lock is held by someone else (the operation may be retried later).</summary>
public sealed class LockBusyException(string message) : BackupFsException(message);

/// <summary>Owner and group given to lock files and directories that a PBS server must also open.</summary>
public readonly record struct LockFileOwner(int Uid, int Gid)
{
    /// <summary>The "backup" user and group PBS runs as, when this process is root and the user exists.</summary>
    public static LockFileOwner? PbsBackupUser()
    {
        if (Environment.UserName != "root") return null;
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var fields = line.Split(':');
                if (fields.Length >= 4 && fields[0] == "backup"
                    && int.TryParse(fields[2], out int uid) && int.TryParse(fields[3], out int gid))
                    return new LockFileOwner(uid, gid);
            }
        }
        catch (IOException) { }
        return null;
    }
}
