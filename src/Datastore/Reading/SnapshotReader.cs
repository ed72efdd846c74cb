using System.Security.Cryptography;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// Reads one finished snapshot: its manifest, indexes (checked against the manifest's csum),
/// blobs (checked against their SHA-256) and archives as random-access byte sources.
/// With keys, the snapshot's key is the one its manifest names (unprotected.key-fingerprint) or
/// that signed it; the manifest signature is checked on opening, encrypted blobs and chunks are
/// decrypted with that key. Encrypted files without their key raise <see cref="EncryptedDataException"/>.
/// </summary>
public sealed class SnapshotReader
{
    private readonly DataStore _store;
    private readonly IChunkSource _chunks;
    private readonly ChunkSourceSet? _sources;

    public SnapshotRef Snapshot { get; }
    public BackupManifest Manifest { get; }
    public string Directory { get; }
    /// <summary>The manifest's JSON text as stored (what the signature is checked over).</summary>
    public byte[] ManifestJson { get; }
    /// <summary>The key this snapshot was made with, when it was given; its signature has been checked.</summary>
    public CryptKey? Key { get; }
    /// <summary>The key fingerprint the manifest names (signed snapshots since PBS 1.0.3), if any.</summary>
    public KeyFingerprint? NamedFingerprint => ManifestSignature.FingerprintOf(Manifest);
    /// <summary>True when any file of the snapshot is encrypted.</summary>
    public bool IsEncrypted => Manifest.Files.Exists(f => f.CryptMode == CryptMode.Encrypt);

    private SnapshotReader(DataStore store, SnapshotRef snapshot, BackupManifest manifest, byte[] manifestJson, IChunkSource chunks, CryptKey? key, ChunkSourceSet? sources)
    {
        _store = store;
        Snapshot = snapshot;
        Manifest = manifest;
        ManifestJson = manifestJson;
        _chunks = chunks;
        _sources = sources;
        Key = key;
        Directory = store.FullPath(snapshot.RelativePath);
    }

    /// <param name="keys">keys to open encrypted/signed snapshots with (none: plain reading only)</param>
    /// <param name="sources">where keyed chunk caches come from (else an uncached decoder per archive)</param>
    /// <exception cref="BackupFsException">the snapshot does not exist or is unfinished</exception>
    /// <exception cref="FormatCorruptException">the manifest is malformed</exception>
    /// <exception cref="CryptoException">the snapshot's key was given but the manifest signature does not match</exception>
    public static SnapshotReader Open(DataStore store, SnapshotRef snapshot, IChunkSource chunks, KeyRing? keys = null, ChunkSourceSet? sources = null)
    {
        var dir = store.FullPath(snapshot.RelativePath);
        if (!store.SnapshotExists(snapshot)) throw new BackupFsException($"snapshot {snapshot} does not exist");
        var manifestPath = Path.Combine(dir, DataStore.ManifestName);
        if (Posix.TryLStat(Posix.PathBytes(manifestPath)) is null) throw new BackupFsException($"snapshot {snapshot} is unfinished (no manifest)");
        BackupManifest manifest;
        byte[] json;
        try
        {
            json = DataBlob.Decode(StoreFile.ReadAll(manifestPath, StoreFileLimits.Blob));
            manifest = BackupManifest.Parse(json);
        }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{snapshot}/{DataStore.ManifestName}: {e.Message}", e); }
        var key = keys?.ForManifest(manifest, json);
        if (key is not null)
        {
            try { ManifestSignature.Check(manifest, json, key); }
            catch (CryptoException e) { throw new CryptoException($"{snapshot}: {e.Message}", e); }
            catch (FormatCorruptException e) { throw new FormatCorruptException($"{snapshot}/{DataStore.ManifestName}: {e.Message}", e); }
        }
        return new SnapshotReader(store, snapshot, manifest, json, chunks, key, sources);
    }

    /// <summary>The key to decode a file's chunks with: null for none/sign-only files.</summary>
    /// <exception cref="EncryptedDataException">the file is encrypted and its key was not given</exception>
    public CryptKey? ChunkKey(string fileName) => RequireKey(RequireFile(fileName));

    /// <summary>The decoded-chunk cache for a file's chunks (plain or keyed).</summary>
    public CachedChunkSource ChunksFor(string fileName, CachedChunkSource plain)
    {
        if (ChunkKey(fileName) is not { } key) return plain;
        if (_sources is not null) return _sources.For(key);
        // Callers without a set (e.g. a commit reading its base snapshot): one small keyed cache per reader.
        lock (_openLock) return _ownKeyed ??= new CachedChunkSource(new DecodingChunkSource(_store.Chunks, key), 32L * 1024 * 1024);
    }

    private readonly object _openLock = new();
    private CachedChunkSource? _ownKeyed;

    private CryptKey? RequireKey(ManifestFileInfo info)
    {
        if (info.CryptMode != CryptMode.Encrypt) return null;
        return Key ?? throw MissingKey(info.Filename);
    }

    /// <summary>The message a mount logs (once per snapshot) and a command prints for an encrypted file without its key.</summary>
    public EncryptedDataException MissingKey(string fileName) => new(NamedFingerprint is { } f
        ? $"snapshot {Snapshot} is encrypted with key {f.Short}; no key with that fingerprint was given"
        : $"snapshot {Snapshot} is encrypted and no key given matches it (its manifest names no key fingerprint)");

    /// <summary>Archive file names recorded in the manifest, in manifest order.</summary>
    public IEnumerable<string> FileNames => Manifest.Files.Select(f => f.Filename);

    private ManifestFileInfo RequireFile(string fileName) =>
        Manifest.Find(fileName) ?? throw new BackupFsException($"snapshot {Snapshot} has no archive '{fileName}'");

    /// <summary>Loads an index and checks it against the manifest's size and checksum.</summary>
    public IChunkIndex OpenIndex(string fileName)
    {
        var info = RequireFile(fileName);
        RequireKey(info);
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

    public IndexedArchive OpenArchive(string fileName)
    {
        var index = OpenIndex(fileName);
        var key = ChunkKey(fileName);
        return new(index, key is null ? _chunks : (IChunkSource?)_sources?.For(key) ?? new DecodingChunkSource(_store.Chunks, key));
    }

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
        try
        {
            // The magic tells (PBS data_blob.rs crypt_mode): an encrypt snapshot's rsa-encrypted.key.blob is plain.
            if (!EncryptedBlob.IsEncrypted(raw)) return DataBlob.Decode(raw);
            var key = Key ?? throw MissingKey(fileName);
            return EncryptedBlob.Decode(key, raw);
        }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{Snapshot}/{fileName}: {e.Message}", e); }
        catch (CryptoException e) { throw new CryptoException($"{Snapshot}/{fileName}: {e.Message}", e); }
    }
}
