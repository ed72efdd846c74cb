using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Store;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.Datastore.Locking;

/// <summary>
/// PBS's process lock on &lt;store&gt;/.lock: a record lock over the whole file that every backup
/// (and staging commit) holds <b>shared</b> for its whole run and garbage collection holds
/// <b>exclusively</b>, taken without waiting. It works per process, as PBS's ProcessLocker does:
/// the first shared holder in this process takes the read lock, later ones only count; the
/// exclusive lock converts it to a write lock (so backups of this process continue beside a GC of
/// this process, and the GC learns their start times), and dropping it goes back to a read lock
/// while backups remain. Another process's lock conflicts exactly as between two PBS processes:
/// a GC is refused while another process backs up, a backup is refused while another process
/// collects. BackupFs uses open-file-description locks (F_OFD_SETLK), which conflict with PBS's
/// classic F_SETLK locks like any other process's, but are not dropped when some unrelated
/// descriptor of .lock is closed in this process.
/// </summary>
public static class DatastoreProcessLock
{
    public const string FileName = ".lock";
    private static readonly Dictionary<string, Locker> Lockers = new(StringComparer.Ordinal);
    private static readonly object Gate = new();

    public static string PathOf(DataStore store) => Path.Combine(store.Root, FileName);

    /// <summary>Takes the shared lock for a backup that starts now (or started at <paramref name="startTime"/>, epoch seconds).</summary>
    /// <exception cref="LockBusyException">another process holds the exclusive lock (a garbage collection runs)</exception>
    public static ProcessLockGuard AcquireShared(DataStore store, long? startTime = null)
    {
        lock (Gate)
        {
            var locker = Get(store);
            try
            {
                if (locker.Writers == 0 && !locker.Exclusive && !PosixLocking.TrySetRecordLock(locker.Handle, PosixLocking.F_RDLCK))
                    throw new LockBusyException(
                        $"datastore {store.Name} is locked exclusively by another process (a garbage collection is running; lock {locker.Path}); try again when it has finished");
            }
            catch
            {
                ReleaseIfIdle(locker);
                throw;
            }
            long id = locker.NextId++;
            locker.Writers++;
            locker.SharedStarts[id] = startTime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            return new ProcessLockGuard(() => ReleaseShared(locker, id));
        }
    }

    /// <summary>Takes the exclusive lock for a garbage collection.</summary>
    /// <exception cref="LockBusyException">another process backs up (or collects), or this process already collects</exception>
    public static ProcessLockGuard AcquireExclusive(DataStore store)
    {
        lock (Gate)
        {
            var locker = Get(store);
            try
            {
                if (locker.Exclusive)
                    throw new LockBusyException($"garbage collection of datastore {store.Name} is already running in this process");
                if (!PosixLocking.TrySetRecordLock(locker.Handle, PosixLocking.F_WRLCK))
                    throw new LockBusyException(
                        $"datastore {store.Name} is in use by another process (a backup or a garbage collection holds the lock {locker.Path}); try again later");
            }
            catch
            {
                ReleaseIfIdle(locker);
                throw;
            }
            locker.Exclusive = true;
            return new ProcessLockGuard(() => ReleaseExclusive(locker));
        }
    }

    /// <summary>Start (epoch seconds) of the oldest shared holder in this process, or null.</summary>
    public static long? OldestShared(DataStore store)
    {
        lock (Gate)
        {
            return Lockers.TryGetValue(PathOf(store), out var locker) && locker.SharedStarts.Count > 0
                ? locker.SharedStarts.Values.Min()
                : null;
        }
    }

    private static Locker Get(DataStore store)
    {
        var path = PathOf(store);
        if (Lockers.TryGetValue(path, out var locker)) return locker;
        SafeFileHandle handle;
        try { handle = PosixLocking.OpenRecordLockFile(path); }
        catch (PosixException e) { throw new BackupFsException($"cannot open the datastore's process lock {path}: {e.Message}", e); }
        locker = new Locker(path, handle);
        Lockers[path] = locker;
        return locker;
    }

    private static void ReleaseShared(Locker locker, long id)
    {
        lock (Gate)
        {
            if (!locker.SharedStarts.Remove(id)) return;
            locker.Writers--;
            if (locker.Writers == 0 && !locker.Exclusive) PosixLocking.TrySetRecordLock(locker.Handle, PosixLocking.F_UNLCK);
            ReleaseIfIdle(locker);
        }
    }

    private static void ReleaseExclusive(Locker locker)
    {
        lock (Gate)
        {
            if (!locker.Exclusive) return;
            // Converting the write lock to a read lock is atomic: backups of this process stay covered.
            PosixLocking.TrySetRecordLock(locker.Handle, locker.Writers > 0 ? PosixLocking.F_RDLCK : PosixLocking.F_UNLCK);
            locker.Exclusive = false;
            ReleaseIfIdle(locker);
        }
    }

    // An idle locker closes its descriptor, so a process does not keep every store it touched open.
    private static void ReleaseIfIdle(Locker locker)
    {
        if (locker.Writers > 0 || locker.Exclusive) return;
        Lockers.Remove(locker.Path);
        locker.Handle.Dispose();
    }

    private sealed class Locker(string path, SafeFileHandle handle)
    {
        public string Path { get; } = path;
        public SafeFileHandle Handle { get; } = handle;
        public int Writers;
        public bool Exclusive;
        public long NextId;
        public Dictionary<long, long> SharedStarts { get; } = new();
    }
}

/// <summary>A held share of the process lock (or the exclusive lock); disposing releases it once.</summary>
public sealed class ProcessLockGuard : IDisposable
{
    private Action? _release;
    internal ProcessLockGuard(Action release) => _release = release;
    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
