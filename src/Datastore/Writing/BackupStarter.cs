using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
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

/// <summary>Opens a backup: locks the group, checks the time, creates the group and snapshot directories.</summary>
public static class BackupStarter
{
    public static async Task<SnapshotWriter> BeginAsync(DataStore store, BackupGroup group, BackupOptions? options = null, CancellationToken ct = default)
    {
        options ??= new BackupOptions();
        if (!store.NamespaceExists(group.Namespace))
            throw new BackupFsException($"namespace '{group.Namespace.Display}' does not exist");

        var groupLock = FileLock.Acquire(LockPaths.Group(store, group), $"group {group}");
        WriterRegistration? registration = null;
        try
        {
            // Registered before any chunk is looked up or stored: GC keeps what this backup touches.
            registration = BackupWriterRegistry.Register(store);
            long time = options.BackupTime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var last = store.ListSnapshots(group).LastOrDefault();
            if (last is not null && time <= last.Snapshot.BackupTime)
            {
                if (options.BackupTime is not null)
                    throw new BackupFsException($"backup time {NameRules.FormatBackupTime(time)} is not newer than the last snapshot {last.Snapshot.TimeName} of {group}");
                time = last.Snapshot.BackupTime + 1; // two backups within one second
            }
            var snapshot = new SnapshotRef(group, time);

            bool newGroup = !store.GroupExists(group);
            // Also heals a group that a first backup, failing on its owner (e.g. object store down), left without one.
            if (newGroup || store.GetOwner(group) is null)
            {
                Directory.CreateDirectory(store.FullPath(group.RelativePath));
                try { await store.SetOwnerAsync(group, options.Owner, ct).ConfigureAwait(false); }
                catch when (newGroup)
                {
                    try { Directory.Delete(store.FullPath(group.RelativePath)); } catch (IOException) { }   // only while empty
                    throw;
                }
            }
            var dir = store.FullPath(snapshot.RelativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
            if (Directory.Exists(dir)) throw new BackupFsException($"snapshot {snapshot} already exists");
            Directory.CreateDirectory(dir);

            var ingest = new ChunkIngest(options.ChunkBackend ?? store.Chunks, options.MaxChunksInFlight);
            return new SnapshotWriter(store, snapshot, ingest, new BackupLocks(registration, groupLock), ct);
        }
        catch
        {
            registration?.Dispose();
            groupLock.Dispose();
            throw;
        }
    }

    /// <summary>What a running backup holds; released when the manifest is written or the backup is abandoned.</summary>
    private sealed class BackupLocks(WriterRegistration registration, FileLock groupLock) : IDisposable
    {
        public void Dispose()
        {
            registration.Dispose();
            groupLock.Dispose();
        }
    }
}
