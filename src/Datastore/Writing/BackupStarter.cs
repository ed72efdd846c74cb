using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Maintenance;
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
    /// <summary>The key for crypt-mode encrypt or sign-only.</summary>
    public CryptKey? Key { get; init; }
    /// <summary>Default: encrypt with a key, none without (PBS's client rule).</summary>
    public CryptMode? CryptMode { get; init; }
    /// <summary>With a key: also store the key RSA-encrypted for this master public key (PEM) as rsa-encrypted.key.blob.</summary>
    public string? MasterPublicKeyPem { get; init; }
    /// <summary>The key file's "created" time, copied into the master-key blob's key config.</summary>
    public string? KeyCreated { get; init; }

    public CryptMode EffectiveCryptMode => CryptMode ?? (Key is null ? Formats.CryptMode.None : Formats.CryptMode.Encrypt);

    /// <summary>The chunk ingest a backup with these options stores through (chunks named and encoded as its crypt mode wants).</summary>
    public ChunkIngest CreateIngest(DataStore store, int maxInFlight = 0) =>
        new(ChunkBackend ?? store.Chunks, maxInFlight > 0 ? maxInFlight : MaxChunksInFlight,
            encryptKey: EffectiveCryptMode == Formats.CryptMode.Encrypt ? Key : null);

    /// <exception cref="BackupFsException">sign-only/encrypt without a key, or none with one</exception>
    public void CheckCrypto()
    {
        if (EffectiveCryptMode != Formats.CryptMode.None && Key is null)
            throw new BackupFsException($"crypt mode {EffectiveCryptMode.ToJsonName()} needs an encryption key (--keyfile)");
        if (EffectiveCryptMode == Formats.CryptMode.None && Key is not null)
            throw new BackupFsException("crypt mode none does not take an encryption key");
        if (MasterPublicKeyPem is not null && Key is null)
            throw new BackupFsException("a master public key needs an encryption key (--keyfile)");
    }
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
        options.CheckCrypto();
        if (!store.NamespaceExists(group.Namespace))
            throw new BackupFsException($"namespace '{group.Namespace.Display}' does not exist");

        // Taken before any chunk is looked up or stored: GC keeps what this backup touches.
        var processLock = DatastoreProcessLock.AcquireShared(store);
        FileLock? groupLock = null, snapshotLock = null;
        try
        {
            // In the directory modes the lock is the group directory itself, so it must exist first (PBS creates it first too).
            if (PbsLockLayout.Mode != PbsLockMode.RunDirectory) DirectoryHandle.CreateBelow(store.Root, group.RelativePath, DirectoryMode).Dispose();
            groupLock = DatastoreLocks.LockGroup(store, group);

            long time = options.BackupTime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var last = store.SnapshotDirectories(group).LastOrDefault();
            if (last is not null && time <= last.BackupTime)
            {
                if (options.BackupTime is not null)
                    throw new BackupFsException($"backup time {NameRules.FormatBackupTime(time)} is not newer than the last snapshot {last.TimeName} of {group}");
                if (last.BackupTime >= NameRules.MaxBackupTime)
                    throw new BackupFsException($"the last snapshot of {group} ({last.TimeName}) has the latest time a snapshot can have; no newer one can be added (forget it first)");
                time = last.BackupTime + 1; // two backups within one second
            }
            var snapshot = new SnapshotRef(group, time);

            // Created through DirectoryHandle: a symlink planted at the type or group level is refused, so
            // nothing (owner file, snapshot) is ever written outside the store.
            using (var groupHandle = DirectoryHandle.CreateBelow(store.Root, group.RelativePath, DirectoryMode))
            {
                // Also heals a group that a first backup, failing on its owner (e.g. object store down), left without one.
                if (groupHandle.TryStat(DataStore.OwnerFile) is null)
                {
                    try { await store.SetOwnerAsync(group, options.Owner, ct).ConfigureAwait(false); }
                    catch
                    {
                        // rmdir: removes the group only while it is empty (a new group), never through a symlink.
                        try { Directory.Delete(store.FullPath(group.RelativePath)); } catch (IOException) { }
                        throw;
                    }
                }
                if (groupHandle.TryStat(snapshot.TimeName) is not null) throw new BackupFsException($"snapshot {snapshot} already exists");
                groupHandle.CreateChild(snapshot.TimeName, DirectoryMode).Dispose();
            }
            snapshotLock = DatastoreLocks.LockSnapshot(store, snapshot, exclusive: true);

            var mode = options.EffectiveCryptMode;
            var ingest = options.CreateIngest(store);
            var writer = new SnapshotWriter(store, snapshot, ingest, new BackupLocks(snapshotLock, groupLock, processLock), ct, mode, options.Key);
            if (options.MasterPublicKeyPem is { } pem)
            {
                try { await writer.AddMasterKeyBlobAsync(pem, options.KeyCreated).ConfigureAwait(false); }
                catch { await writer.DisposeAsync().ConfigureAwait(false); throw; }
            }
            return writer;
        }
        catch
        {
            snapshotLock?.Dispose();
            groupLock?.Dispose();
            processLock.Dispose();
            throw;
        }
    }

    private const uint DirectoryMode = 0x1ED; // 0755, as PBS creates its directories

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
