using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Writing;

/// <summary>Options for a new backup.</summary>
public sealed record BackupOptions
{
    /// <summary>Backup time in epoch seconds; default now. Must be newer than the group's last snapshot.</summary>
    public long? BackupTime { get; init; }
    /// <summary>Owner written to a new group's owner file.</summary>
    public string Owner { get; init; } = "root@pam";
    /// <summary>Parallel chunk workers (0 = by core count).</summary>
    public int MaxChunksInFlight { get; init; }
    /// <summary>Backend override for chunk writes (e.g. S3 without the local cache).</summary>
    public IChunkBackend? ChunkBackend { get; init; }
}

/// <summary>
/// Opens a backup as PBS does: the datastore's process lock shared (so no garbage collection of
/// another process runs while this backup may reference chunks), the group lock, the time check,
/// the group directory and owner, then the new snapshot directory and its lock. All are held until
/// the manifest is written or the backup is abandoned.
/// </summary>
public static class BackupStarter
{
    public static async Task<SnapshotWriter> BeginAsync(DataStore store, BackupGroup group, BackupOptions? options = null, CancellationToken ct = default)
    {
        options ??= new BackupOptions();
        if (!store.NamespaceExists(group.Namespace))
            throw new BackupFsException($"namespace '{group.Namespace.Display}' does not exist");

        // Taken before any chunk is looked up or stored: GC keeps what this backup touches.
        var processLock = DatastoreProcessLock.AcquireShared(store);
        FileLock? groupLock = null, snapshotLock = null;
        try
        {
            var groupDir = store.FullPath(group.RelativePath);
            // In the directory modes the lock is the group directory itself, so it must exist first (PBS creates it first too).
            if (PbsLockLayout.Mode != PbsLockMode.RunDirectory) Directory.CreateDirectory(groupDir);
            groupLock = DatastoreLocks.LockGroup(store, group);

            long time = options.BackupTime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var last = store.ListSnapshots(group).LastOrDefault();
            if (last is not null && time <= last.Snapshot.BackupTime)
            {
                if (options.BackupTime is not null)
                    throw new BackupFsException($"backup time {NameRules.FormatBackupTime(time)} is not newer than the last snapshot {last.Snapshot.TimeName} of {group}");
                time = last.Snapshot.BackupTime + 1; // two backups within one second
            }
            var snapshot = new SnapshotRef(group, time);

            if (!File.Exists(Path.Combine(groupDir, DataStore.OwnerFile)))
            {
                Directory.CreateDirectory(groupDir);
                await store.SetOwnerAsync(group, options.Owner, ct).ConfigureAwait(false);
            }
            var dir = store.FullPath(snapshot.RelativePath);
            if (Directory.Exists(dir)) throw new BackupFsException($"snapshot {snapshot} already exists");
            Directory.CreateDirectory(dir);
            snapshotLock = DatastoreLocks.LockSnapshot(store, snapshot, exclusive: true);

            var ingest = new ChunkIngest(options.ChunkBackend ?? store.Chunks, options.MaxChunksInFlight);
            return new SnapshotWriter(store, snapshot, ingest, new BackupLocks(snapshotLock, groupLock, processLock), ct);
        }
        catch
        {
            snapshotLock?.Dispose();
            groupLock?.Dispose();
            processLock.Dispose();
            throw;
        }
    }

    /// <summary>What a running backup holds; released when the manifest is written or the backup is abandoned.</summary>
    private sealed class BackupLocks(FileLock snapshotLock, FileLock groupLock, ProcessLockGuard processLock) : IDisposable
    {
        public void Dispose()
        {
            snapshotLock.Dispose();
            groupLock.Dispose();
            processLock.Dispose();
        }
    }
}
