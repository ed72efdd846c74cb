using System.Security.Cryptography;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// Reads one finished snapshot: its manifest, indexes (checked against the manifest's csum),
/// blobs (checked against their SHA-256) and archives as random-access byte sources.
/// </summary>
public sealed class SnapshotReader
{
    private readonly DataStore _store;
    private readonly IChunkSource _chunks;

    public SnapshotRef Snapshot { get; }
    public BackupManifest Manifest { get; }
    public string Directory { get; }

    private SnapshotReader(DataStore store, SnapshotRef snapshot, BackupManifest manifest, IChunkSource chunks)
    {
        _store = store;
        Snapshot = snapshot;
        Manifest = manifest;
        _chunks = chunks;
        Directory = store.FullPath(snapshot.RelativePath);
    }

    /// <exception cref="BackupFsException">the snapshot does not exist or is unfinished</exception>
    /// <exception cref="FormatCorruptException">the manifest is malformed</exception>
    public static SnapshotReader Open(DataStore store, SnapshotRef snapshot, IChunkSource chunks)
    {
        var dir = store.FullPath(snapshot.RelativePath);
        if (!store.SnapshotExists(snapshot)) throw new BackupFsException($"snapshot {snapshot} does not exist");
        var manifestPath = Path.Combine(dir, DataStore.ManifestName);
        if (Posix.TryLStat(Posix.PathBytes(manifestPath)) is null) throw new BackupFsException($"snapshot {snapshot} is unfinished (no manifest)");
        BackupManifest manifest;
        try { manifest = BackupManifest.FromBlob(StoreFile.ReadAll(manifestPath, StoreFileLimits.Blob)); }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{snapshot}/{DataStore.ManifestName}: {e.Message}", e); }
        return new SnapshotReader(store, snapshot, manifest, chunks);
    }

    /// <summary>Archive file names recorded in the manifest, in manifest order.</summary>
    public IEnumerable<string> FileNames => Manifest.Files.Select(f => f.Filename);

    private ManifestFileInfo RequireFile(string fileName) =>
        Manifest.Find(fileName) ?? throw new BackupFsException($"snapshot {Snapshot} has no archive '{fileName}'");

    /// <summary>Loads an index and checks it against the manifest's size and checksum.</summary>
    public IChunkIndex OpenIndex(string fileName)
    {
        var info = RequireFile(fileName);
        if (info.CryptMode == CryptMode.Encrypt) throw new EncryptedDataException($"{fileName} is encrypted; BackupFs cannot read it without the key");
        var path = Path.Combine(Directory, fileName);
        IChunkIndex index;
        try
        {
            var bytes = StoreFile.ReadAll(path, StoreFileLimits.Index);
            index = fileName.EndsWith(".fidx", StringComparison.Ordinal) ? FixedIndex.Parse(bytes)
                : fileName.EndsWith(".didx", StringComparison.Ordinal) ? DynamicIndex.Parse(bytes)
                : throw new BackupFsException($"{fileName} is not an index archive");
        }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{Snapshot}/{fileName}: {e.Message}", e); }
        catch (FileNotFoundException) { throw new FormatCorruptException($"{Snapshot}/{fileName} is listed in the manifest but missing"); }
        if (!index.Checksum.SequenceEqual(info.Csum) || (ulong)index.Size != info.Size)
            throw new FormatCorruptException($"{Snapshot}/{fileName} does not match the manifest (checksum or size)");
        return index;
    }

    public IndexedArchive OpenArchive(string fileName) => new(OpenIndex(fileName), _chunks);

    /// <summary>Reads and decodes a blob, checking it against the manifest's SHA-256.</summary>
    public byte[] ReadBlob(string fileName)
    {
        var path = Path.Combine(Directory, fileName);
        byte[] raw;
        try { raw = StoreFile.ReadAll(path, StoreFileLimits.Blob); }
        catch (FileNotFoundException) { throw new BackupFsException($"snapshot {Snapshot} has no blob '{fileName}'"); }
        var info = Manifest.Find(fileName);
        // client.log.blob is uploaded after the manifest and is not listed in it.
        if (info is not null && !SHA256.HashData(raw).AsSpan().SequenceEqual(info.Csum))
            throw new FormatCorruptException($"{Snapshot}/{fileName} does not match the manifest checksum");
        try { return DataBlob.Decode(raw); }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{Snapshot}/{fileName}: {e.Message}", e); }
    }
}
