using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// Writes one new snapshot: archives (chunked and deduplicated against the store) and blobs,
/// then the manifest last. Until <see cref="FinishAsync"/> succeeds the snapshot has no manifest
/// and is never listed as complete; disposing an unfinished writer removes it again.
/// Crypt mode encrypt: chunks and blobs encrypted with the key, manifest signed (it stays plain);
/// sign-only: plain data, signed manifest. Every file's crypt-mode is the snapshot's (PBS's client).
/// </summary>
public sealed class SnapshotWriter : IAsyncDisposable
{
    private readonly DataStore _store;
    private readonly ChunkIngest _ingest;
    private readonly IDisposable _groupLock;
    private readonly List<ManifestFileInfo> _files = new();
    private readonly CancellationToken _ct;
    private bool _finished;

    public SnapshotRef Snapshot { get; }
    public CryptMode CryptMode { get; }
    /// <summary>The key of an encrypt or sign-only snapshot.</summary>
    public CryptKey? Key { get; }
    public ChunkIngestStats Stats => _ingest.Stats;
    public string Directory { get; }

    internal SnapshotWriter(DataStore store, SnapshotRef snapshot, ChunkIngest ingest, IDisposable groupLock, CancellationToken ct,
        CryptMode cryptMode = CryptMode.None, CryptKey? key = null)
    {
        CryptMode = cryptMode;
        Key = cryptMode == CryptMode.None ? null : key ?? throw new ArgumentException("a key is needed for " + cryptMode.ToJsonName());
        _store = store;
        Snapshot = snapshot;
        _ingest = ingest;
        _groupLock = groupLock;
        _ct = ct;
        Directory = store.FullPath(snapshot.RelativePath);
    }

    public IReadOnlyList<ManifestFileInfo> Files => _files;

    /// <summary>A stream archive (e.g. "root.pxar.didx"), chunked by PBS's content-defined chunker.</summary>
    public DynamicArchiveWriter CreateDynamicArchive(string fileName, int averageChunkSize = Chunker.DefaultAverageSize)
    {
        CheckName(fileName, ".didx");
        return new DynamicArchiveWriter(fileName, _ingest, averageChunkSize, _ct);
    }

    /// <summary>The payload archive of a split pxar (e.g. "root.ppxar.didx"), cut by the payload chunker.</summary>
    public PayloadArchiveWriter CreatePayloadArchive(string fileName, int averageChunkSize = Chunker.DefaultAverageSize)
    {
        CheckName(fileName, ".didx");
        return new PayloadArchiveWriter(fileName, _ingest, averageChunkSize, _ct);
    }

    /// <summary>An image archive (e.g. "drive-scsi0.img.fidx") in fixed-size chunks.</summary>
    public FixedArchiveWriter CreateFixedArchive(string fileName, int chunkSize = (int)FixedIndex.DefaultChunkSize)
    {
        CheckName(fileName, ".fidx");
        return new FixedArchiveWriter(fileName, _ingest, chunkSize, _ct);
    }

    /// <summary>Waits for the archive's chunks, writes its index and records it for the manifest.</summary>
    public async Task<IChunkIndex> CloseArchiveAsync(ArchiveWriterBase archive)
    {
        byte[] file;
        IChunkIndex index;
        switch (archive)
        {
            case DynamicArchiveWriter d: { var r = await d.CompleteAsync().ConfigureAwait(false); file = r.IndexFile; index = r.Index; break; }
            case PayloadArchiveWriter p: { var r = await p.CompleteAsync().ConfigureAwait(false); file = r.IndexFile; index = r.Index; break; }
            case FixedArchiveWriter f: { var r = await f.CompleteAsync().ConfigureAwait(false); file = r.IndexFile; index = r.Index; break; }
            default: throw new ArgumentException("unknown archive writer", nameof(archive));
        }
        await WriteFileAsync(archive.Name, file).ConfigureAwait(false);
        _files.Add(new ManifestFileInfo(archive.Name, CryptMode, (ulong)index.Size, index.Checksum.ToArray()));
        return index;
    }

    /// <summary>Adds a blob (e.g. "qemu-server.conf.blob"); the manifest records the encoded size and SHA-256.</summary>
    public async Task AddBlobAsync(string fileName, ReadOnlyMemory<byte> data, bool compress = true)
    {
        CheckName(fileName, ".blob");
        if (fileName == DataStore.ManifestName) throw new InvalidNameException("index.json.blob is written by the backup itself");
        var blob = CryptMode == CryptMode.Encrypt ? EncryptedBlob.Encode(Key!, data.Span, compress) : DataBlob.Encode(data.Span, compress);
        await WriteFileAsync(fileName, blob).ConfigureAwait(false);
        _files.Add(new ManifestFileInfo(fileName, CryptMode, (ulong)blob.Length, SHA256.HashData(blob)));
    }

    /// <summary>rsa-encrypted.key.blob: the key for the master public key, a plain uncompressed blob (crypt-mode as the snapshot, as the client writes it).</summary>
    public async Task AddMasterKeyBlobAsync(string masterPublicKeyPem, string? keyCreated)
    {
        var blob = MasterKey.CreateBlob(masterPublicKeyPem, Key ?? throw new BackupFsException("a master key blob needs an encryption key"), keyCreated);
        CheckName(MasterKey.BlobName, ".blob");
        await WriteFileAsync(MasterKey.BlobName, blob).ConfigureAwait(false);
        _files.Add(new ManifestFileInfo(MasterKey.BlobName, CryptMode, (ulong)blob.Length, SHA256.HashData(blob)));
    }

    /// <summary>Writes the manifest (last), which makes the snapshot complete.</summary>
    public async Task<BackupManifest> FinishAsync(JsonObject? unprotected = null)
    {
        var manifest = new BackupManifest
        {
            BackupType = Snapshot.Group.Type.ToName(),
            BackupId = Snapshot.Group.Id,
            BackupTime = Snapshot.BackupTime,
        };
        manifest.Files.AddRange(_files);
        manifest.Unprotected = unprotected ?? new JsonObject();
        manifest.Unprotected["chunk_upload_stats"] = new JsonObject
        {
            ["count"] = Stats.InsertedChunks,
            ["size"] = Stats.Bytes - Stats.DuplicateBytes,
            ["compressed_size"] = Stats.InsertedBytes,
            ["duplicates"] = Stats.DuplicateChunks,
        };
        if (Key is not null) ManifestSignature.Sign(manifest, Key); // key-fingerprint in unprotected, signature over the rest
        await WriteFileAsync(DataStore.ManifestName, manifest.ToBlob()).ConfigureAwait(false);
        _finished = true;
        _groupLock.Dispose();
        return manifest;
    }

    private async Task WriteFileAsync(string fileName, byte[] bytes)
    {
        _ct.ThrowIfCancellationRequested();
        // The object store first, then the local copy: a local file always has its remote twin.
        await _store.Mirror.PutAsync(Snapshot.RelativePath + "/" + fileName, bytes, noReplace: false, _ct).ConfigureAwait(false);
        await AtomicFile.WriteAsync(Path.Combine(Directory, fileName), bytes, fsync: fileName == DataStore.ManifestName, _ct).ConfigureAwait(false);
    }

    private void CheckName(string fileName, string extension)
    {
        NameRules.CheckArchiveFileName(fileName);
        if (!fileName.EndsWith(extension, StringComparison.Ordinal))
            throw new InvalidNameException($"archive '{fileName}' must end in {extension}");
        if (_files.Any(f => f.Filename == fileName))
            throw new InvalidNameException($"archive '{fileName}' was already added to this snapshot");
    }

    /// <summary>Removes an unfinished snapshot (locally and in the mirror).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_finished)
        {
            try
            {
                await _store.Mirror.DeletePrefixAsync(Snapshot.RelativePath, CancellationToken.None).ConfigureAwait(false);
            }
            catch (BackupFsException) { /* the local directory still goes; an orphan without manifest is never listed */ }
            try { Platform.SafeDelete.Tree(_store.Root, Snapshot.RelativePath); }
            catch (Platform.UnsafePathException) { /* swapped for a symlink meanwhile: leave it, never delete through it */ }
            _groupLock.Dispose();
        }
    }
}
