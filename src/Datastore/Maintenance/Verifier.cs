using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// PBS verify (src/backup/verify.rs): for each finished snapshot, every file its manifest lists is
/// checked — index files against the manifest's size and checksum, then each of their chunks read
/// straight from the backend (no cache), decoded and digest-checked; blobs by size, SHA-256 and
/// decoding. A chunk is checked once per run (a verifier instance); corrupt chunks are renamed to
/// "&lt;hex&gt;.&lt;n&gt;.bad" so the next backup stores a good copy. The result goes into the
/// manifest's unprotected section as verify_state {"upid", "state": "ok"|"failed"}.
/// Malformed input never aborts the run: it fails that snapshot.
/// </summary>
public sealed class Verifier
{
    private enum ChunkState { Ok, Corrupt, Missing, ReadError, WrongCryptMode }

    private readonly DataStore _store;
    private readonly VerifyOptions _options;
    private readonly IVerifyBackend _backend;
    private readonly IChunkSource _decoder;
    private readonly ConcurrentDictionary<Digest, ChunkState> _checked = new();
    private readonly ConcurrentQueue<RenamedChunk> _renamed = new();
    private ProgressMeter _meter;

    public string Upid { get; }

    public Verifier(DataStore store, VerifyOptions? options = null)
    {
        _store = store;
        _options = options ?? new VerifyOptions();
        _backend = _options.Backend ?? MaintenanceBackends.ForVerify(store);
        _decoder = new DecodingChunkSource(_backend.UncachedChunks);
        Upid = _options.Upid ?? Maintenance.Upid.Create("verify", store.Name);
        _meter = new ProgressMeter(_options.Progress, "verify");
    }

    /// <summary>Every snapshot of every group in every namespace, oldest first per group.</summary>
    public Task<VerifyReport> VerifyAllAsync(CancellationToken ct = default) =>
        VerifySnapshotsAsync(_store.ListAllGroups().SelectMany(g => _store.ListSnapshots(g)).Select(s => s.Snapshot).ToList(), ct);

    public Task<VerifyReport> VerifySnapshotAsync(SnapshotRef snapshot, CancellationToken ct = default) =>
        VerifySnapshotsAsync([snapshot], ct);

    public async Task<VerifyReport> VerifySnapshotsAsync(IReadOnlyList<SnapshotRef> snapshots, CancellationToken ct = default)
    {
        _meter = new ProgressMeter(_options.Progress, "verify", snapshots.Sum(CountChunkReferences));
        var results = new List<SnapshotVerifyResult>(snapshots.Count);
        foreach (var snapshot in snapshots)
            results.Add(await VerifyOneAsync(snapshot, ct).ConfigureAwait(false));
        _meter.Complete();
        return new VerifyReport(Upid, results, _checked.Count, _meter.Bytes, _renamed.ToList());
    }

    private async Task<SnapshotVerifyResult> VerifyOneAsync(SnapshotRef snapshot, CancellationToken ct)
    {
        if (!_store.SnapshotExists(snapshot)) return Skipped(snapshot, "snapshot does not exist (anymore)");
        FileLock snapshotLock;
        try { snapshotLock = DatastoreLocks.LockSnapshot(_store, snapshot, exclusive: false); }
        catch (BackupFsException e) { return Skipped(snapshot, e.Message); }
        using (snapshotLock)
        {
            if (!_store.SnapshotExists(snapshot)) return Skipped(snapshot, "snapshot does not exist (anymore)");
            var dir = _store.FullPath(snapshot.RelativePath);
            var manifestPath = Path.Combine(dir, DataStore.ManifestName);
            if (Posix.TryLStat(Posix.PathBytes(manifestPath)) is null) return Skipped(snapshot, "snapshot is unfinished (no manifest)");

            BackupManifest manifest;
            byte[] manifestJson;
            try
            {
                manifestJson = DataBlob.Decode(await StoreFile.ReadAllAsync(manifestPath, StoreFileLimits.Blob, ct).ConfigureAwait(false));
                manifest = BackupManifest.Parse(manifestJson);
            }
            catch (Exception e) when (e is BackupFsException or IOException)
            {
                // As PBS: a manifest that cannot be loaded fails the snapshot, and there is nowhere to record it.
                return new SnapshotVerifyResult(snapshot, VerifyOutcome.Failed, 0, 0, 0, [$"{DataStore.ManifestName}: {e.Message}"], false);
            }

            var tally = new SnapshotTally();
            var key = _options.Keys?.ForManifest(manifest, manifestJson, confirmedOnly: true);
            if (key is not null)
            {
                try { ManifestSignature.Check(manifest, manifestJson, key); }
                catch (Exception e) when (e is BackupFsException)
                {
                    tally.Errors.Add($"{DataStore.ManifestName}: {e.Message}");
                    key = null; // a manifest that fails its signature vouches for nothing: check the rest without the key
                }
            }
            var notes = new List<string>();
            if (key is null && manifest.Files.Exists(f => f.CryptMode == CryptMode.Encrypt))
                notes.Add(ManifestSignature.FingerprintOf(manifest) is { } named
                    ? $"encrypted with key {named.Short}, not given: checked CRC, crypt mode, sizes and checksums only (no GCM tag, keyed digest or signature)"
                    : "encrypted, no key given: checked CRC, crypt mode, sizes and checksums only (no GCM tag, keyed digest or signature)");
            else if (key is null && manifest.Signature is not null)
                notes.Add("signed, key not given: signature not checked");
            else if (key is not null)
                notes.Add($"key {key.Fingerprint.Short}: signature{(manifest.Files.Exists(f => f.CryptMode == CryptMode.Encrypt) ? ", GCM tags and keyed digests" : "")} checked");
            foreach (var file in manifest.Files)
            {
                ct.ThrowIfCancellationRequested();
                try
                {
                    var path = Path.Combine(dir, file.Filename);
                    if (IndexFileScanner.IsIndexName(file.Filename)) await VerifyIndexAsync(path, file, key, tally, ct).ConfigureAwait(false);
                    else if (file.Filename.EndsWith(".blob", StringComparison.Ordinal)) VerifyBlob(path, file, key);
                    else throw new FormatCorruptException("not an index or blob file name");
                }
                catch (Exception e) when (e is (BackupFsException or IOException or UnauthorizedAccessException) and not IBackendUnreachable)
                {
                    tally.Errors.Add($"{file.Filename}: {e.Message}");
                }
            }

            bool ok = tally.Errors.Count == 0;
            bool recorded = false;
            if (_options.RecordState)
            {
                try
                {
                    await ManifestUpdater.UpdateAsync(_store, snapshot, m => m.Unprotected["verify_state"] = new JsonObject
                    {
                        ["upid"] = Upid,
                        ["state"] = ok ? "ok" : "failed",
                    }, ct).ConfigureAwait(false);
                    recorded = true;
                }
                catch (BackupFsException e) when (e is not IBackendUnreachable)
                {
                    tally.Errors.Add($"recording the verify state failed: {e.Message}");
                    ok = false;
                }
            }
            return new SnapshotVerifyResult(snapshot, ok ? VerifyOutcome.Ok : VerifyOutcome.Failed,
                tally.Chunks.Count, tally.Corrupt, tally.Missing, tally.Errors, recorded) { Notes = notes };
        }
    }

    private async Task VerifyIndexAsync(string path, ManifestFileInfo info, CryptKey? key, SnapshotTally tally, CancellationToken ct)
    {
        byte[] bytes;
        try { bytes = await StoreFile.ReadAllAsync(path, StoreFileLimits.Index, ct).ConfigureAwait(false); }
        catch (FileNotFoundException) { throw new FormatCorruptException("listed in the manifest but missing"); }
        IChunkIndex index = path.EndsWith(".fidx", StringComparison.Ordinal) ? FixedIndex.Parse(bytes) : DynamicIndex.Parse(bytes);
        if ((ulong)index.Size != info.Size) throw new FormatCorruptException($"size {index.Size} differs from the manifest's {info.Size}");
        if (!index.Checksum.SequenceEqual(info.Csum)) throw new FormatCorruptException("index checksum differs from the manifest");

        bool encrypted = info.CryptMode == CryptMode.Encrypt;
        if (!encrypted) key = null;
        var unique = new Dictionary<Digest, long>();
        for (int i = 0; i < index.Count; i++)
            unique.TryAdd(index.DigestAt(i), index.ChunkEnd(i) - index.ChunkStart(i));

        var todo = unique.Where(kv => !_checked.ContainsKey(kv.Key)).ToList();
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = _options.Parallelism > 0 ? _options.Parallelism : Environment.ProcessorCount,
            CancellationToken = ct,
        };
        await Parallel.ForEachAsync(todo, parallel, async (chunk, token) =>
        {
            _checked[chunk.Key] = await CheckChunkAsync(chunk.Key, chunk.Value, encrypted, key, token).ConfigureAwait(false);
        }).ConfigureAwait(false);
        _meter.Add(index.Count - todo.Count); // references to chunks checked before cost nothing

        int corrupt = 0, missing = 0, unreadable = 0, wrongMode = 0;
        foreach (var digest in unique.Keys)
        {
            tally.Chunks.Add(digest);
            switch (_checked[digest])
            {
                case ChunkState.Corrupt: corrupt++; if (tally.CorruptSeen.Add(digest)) tally.Corrupt++; break;
                case ChunkState.Missing: missing++; if (tally.MissingSeen.Add(digest)) tally.Missing++; break;
                case ChunkState.ReadError: unreadable++; break;
                case ChunkState.WrongCryptMode: wrongMode++; break;
            }
        }
        if (corrupt + missing + unreadable + wrongMode > 0)
        {
            var parts = new List<string>();
            if (corrupt > 0) parts.Add($"{corrupt} corrupt");
            if (missing > 0) parts.Add($"{missing} missing");
            if (unreadable > 0) parts.Add($"{unreadable} unreadable");
            if (wrongMode > 0) parts.Add($"{wrongMode} with the wrong crypt mode");
            throw new BackupFsException($"{string.Join(", ", parts)} of {unique.Count} chunks");
        }
    }

    private async Task<ChunkState> CheckChunkAsync(Digest digest, long expectedSize, bool encrypted, CryptKey? key, CancellationToken ct)
    {
        try
        {
            if (encrypted && key is not null)
            {
                // With the snapshot's key (confirmed by its signature): CRC, tag, keyed digest, size.
                var raw = await _backend.UncachedChunks.ReadBlobAsync(digest, ct).ConfigureAwait(false);
                if (raw is null) throw new ChunkMissingException(digest);
                bool isEncrypted;
                try { isEncrypted = EncryptedBlob.IsEncrypted(raw); }
                catch (FormatCorruptException e) { throw new ChunkCorruptException(digest, e.Message, e); }
                if (!isEncrypted) return ChunkState.WrongCryptMode; // a plain chunk may be good for other snapshots: never renamed
                ChunkBuffer plain;
                try { plain = EncryptedChunkDecoder.Decode(key, digest, raw); }
                catch (CryptoException e) { throw new ChunkCorruptException(digest, e.Message, e); }
                int length = plain.Length;
                plain.Release();
                _meter.Add(1, length);
                if (length == expectedSize) return ChunkState.Ok;
                await RenameAsync(digest, ct).ConfigureAwait(false);
                return ChunkState.Corrupt;
            }
            if (!encrypted)
            {
                var data = await _decoder.ReadChunkAsync(digest, ct).ConfigureAwait(false);
                int length = data.Length;
                data.Release();
                _meter.Add(1, length);
                if (length == expectedSize) return ChunkState.Ok;
                await RenameAsync(digest, ct).ConfigureAwait(false); // PBS verify_unencrypted: a size mismatch is corruption
                return ChunkState.Corrupt;
            }
            // Encrypted chunks cannot be decoded without the key: check magic and CRC as PBS does.
            var blob = await _backend.UncachedChunks.ReadBlobAsync(digest, ct).ConfigureAwait(false);
            if (blob is null) throw new ChunkMissingException(digest);
            _meter.Add(1, blob.Length);
            BlobKind kind;
            try { kind = DataBlob.GetKind(blob); }
            catch (FormatCorruptException e) { throw new ChunkCorruptException(digest, e.Message, e); }
            if (kind is not (BlobKind.Encrypted or BlobKind.EncryptedCompressed)) return ChunkState.WrongCryptMode;
            if (!DataBlob.CrcMatches(blob)) throw new ChunkCorruptException(digest, "CRC-32 mismatch");
            return ChunkState.Ok;
        }
        catch (ChunkMissingException)
        {
            _meter.Add(1);
            await RenameAsync(digest, ct).ConfigureAwait(false); // moves an empty leftover file aside, as PBS does
            return ChunkState.Missing;
        }
        catch (ChunkCorruptException)
        {
            _meter.Add(1);
            await RenameAsync(digest, ct).ConfigureAwait(false);
            return ChunkState.Corrupt;
        }
        catch (Exception e) when (e is UnsafePathException or FormatCorruptException and not ChunkCorruptException)
        {
            // Not a regular file, or larger than any chunk can be: corrupt, moved aside like any other.
            _meter.Add(1);
            await RenameAsync(digest, ct).ConfigureAwait(false);
            return ChunkState.Corrupt;
        }
        catch (EncryptedDataException)
        {
            _meter.Add(1);
            return ChunkState.WrongCryptMode;
        }
        catch (Exception e) when (e is (BackendException or IOException or UnauthorizedAccessException) and not IBackendUnreachable)
        {
            _meter.Add(1);
            return ChunkState.ReadError; // the store could not be read: nothing is known about the chunk
        }
        // IBackendUnreachable (e.g. the object store does not answer): the whole verify stops with that
        // one error instead of marking every snapshot failed for chunks nobody could look at.
    }

    private async Task RenameAsync(Digest digest, CancellationToken ct)
    {
        var where = await _backend.RenameCorruptAsync(digest, ct).ConfigureAwait(false);
        if (where is not null) _renamed.Enqueue(new RenamedChunk(digest, where));
    }

    private static void VerifyBlob(string path, ManifestFileInfo info, CryptKey? key)
    {
        byte[] raw;
        try { raw = StoreFile.ReadAll(path, StoreFileLimits.Blob); }
        catch (FileNotFoundException) { throw new FormatCorruptException("listed in the manifest but missing"); }
        if ((ulong)raw.Length != info.Size) throw new FormatCorruptException($"size {raw.Length} differs from the manifest's {info.Size}");
        if (!SHA256.HashData(raw).AsSpan().SequenceEqual(info.Csum)) throw new FormatCorruptException("checksum differs from the manifest");
        // The magic tells whether a blob is encrypted (an encrypt snapshot's rsa-encrypted.key.blob is plain).
        if (!EncryptedBlob.IsEncrypted(raw)) DataBlob.Decode(raw);
        else if (key is not null) EncryptedBlob.Decode(key, raw);
        else EncryptedBlob.CheckHeader(raw); // CRC and structure only
    }

    // For the progress total: index entries, from the file sizes alone.
    private long CountChunkReferences(SnapshotRef snapshot)
    {
        long total = 0;
        var dir = _store.FullPath(snapshot.RelativePath);
        if (!Directory.Exists(dir)) return 0;
        foreach (var file in Directory.EnumerateFiles(dir))
        {
            long body = new FileInfo(file).Length - IndexHeader.Size;
            if (body <= 0) continue;
            if (file.EndsWith(".fidx", StringComparison.Ordinal)) total += body / Digest.Size;
            else if (file.EndsWith(".didx", StringComparison.Ordinal)) total += body / DynamicIndex.EntrySize;
        }
        return total;
    }

    private static SnapshotVerifyResult Skipped(SnapshotRef snapshot, string why) =>
        new(snapshot, VerifyOutcome.Skipped, 0, 0, 0, [why], false);

    private sealed class SnapshotTally
    {
        public readonly HashSet<Digest> Chunks = new();
        public readonly HashSet<Digest> CorruptSeen = new();
        public readonly HashSet<Digest> MissingSeen = new();
        public readonly List<string> Errors = new();
        public int Corrupt, Missing;
    }
}
