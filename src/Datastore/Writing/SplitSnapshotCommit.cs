using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Writing;

/// <summary>Result of one committed split snapshot.</summary>
public sealed record SplitCommitResult(SnapshotRef Snapshot, SplitBackupStats Split, long InsertedChunks, long InsertedBytes);

/// <summary>
/// Writes a tree as the next snapshot of a group in the split layout (root.mpxar.didx + root.ppxar.didx,
/// no catalog), reusing payload chunks of the group's latest snapshot when that one is split too.
/// The manifest is written last: on any failure the unfinished snapshot is removed and the previous
/// latest stays the latest.
/// </summary>
public static class SplitSnapshotCommit
{
    public const string ArchiveName = "root";

    public static async Task<SplitCommitResult> CommitAsync(DataStore store, BackupGroup group, ISnapshotTreeSource source,
        CachedChunkSource chunks, BackupOptions? options = null, CancellationToken ct = default)
    {
        PreviousSplitArchive? previous = null;
        options ??= new BackupOptions();
        if (store.LatestSnapshot(group) is { } latest)
        {
            var keys = options.Key is null ? null : new Crypto.KeyRing([options.Key]);
            SnapshotReader? reader;
            try { reader = SnapshotReader.Open(store, latest, chunks, keys); }
            catch (Crypto.CryptoException) { reader = null; } // its signature fails: nothing of it is reused
            var names = reader is null ? [] : reader.FileNames.ToHashSet(StringComparer.Ordinal);
            if (reader is not null && names.Contains(ArchiveName + ".mpxar.didx") && names.Contains(ArchiveName + ".ppxar.didx")
                && CanReuse(reader, ArchiveName + ".ppxar.didx", options)
                && reader.OpenIndex(ArchiveName + ".ppxar.didx") is DynamicIndex payloadIndex)
            {
                var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, ArchiveName + ".mpxar.didx", ct).ConfigureAwait(false);
                previous = new PreviousSplitArchive(accessor, payloadIndex);
            }
        }
        await using var writer = await BackupStarter.BeginAsync(store, group, options, ct).ConfigureAwait(false);
        var split = await SplitArchiveBackup.WriteAsync(writer, ArchiveName, source, previous, ct).ConfigureAwait(false);
        await writer.FinishAsync().ConfigureAwait(false);
        return new SplitCommitResult(writer.Snapshot, split, writer.Stats.InsertedChunks, writer.Stats.InsertedBytes);
    }

    /// <summary>
    /// Payload chunks are reused only from a snapshot of the same crypt mode and, when signed or
    /// encrypted, the same key (checked by its signature): PBS's client never reuses across keys,
    /// and an encrypted chunk's name only holds for its key.
    /// </summary>
    private static bool CanReuse(SnapshotReader previous, string payloadFile, BackupOptions options)
    {
        var info = previous.Manifest.Find(payloadFile);
        if (info is null || info.CryptMode != options.EffectiveCryptMode) return false;
        if (options.EffectiveCryptMode == CryptMode.None) return previous.Manifest.Signature is null;
        return previous.Key is not null && previous.Key.Fingerprint == options.Key!.Fingerprint;
    }
}
