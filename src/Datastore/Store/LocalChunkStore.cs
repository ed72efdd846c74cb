using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Store;

/// <summary>
/// The chunk store of a datastore directory: encoded chunks at .chunks/&lt;4 hex&gt;/&lt;64 hex&gt;.
/// Inserts are atomic (temp file + rename) and idempotent; an existing chunk is only touched.
/// Also the on-disk layer of an S3 datastore's cache, where a 0-byte file is a marker for a
/// chunk that lives only in the bucket.
/// </summary>
public sealed class LocalChunkStore : IChunkBackend
{
    public const string ChunkDirName = ".chunks";

    public string DatastoreRoot { get; }
    public string ChunkDir { get; }

    public LocalChunkStore(string datastoreRoot)
    {
        DatastoreRoot = Path.GetFullPath(datastoreRoot);
        ChunkDir = Path.Combine(DatastoreRoot, ChunkDirName);
        if (!Directory.Exists(ChunkDir))
            throw new BackupFsException($"{DatastoreRoot} is not a datastore (no {ChunkDirName} directory)");
    }

    /// <summary>Creates .chunks with all 65536 prefix directories up front, as PBS does.</summary>
    public static LocalChunkStore Create(string datastoreRoot)
    {
        var root = Path.GetFullPath(datastoreRoot);
        var chunkDir = Path.Combine(root, ChunkDirName);
        Directory.CreateDirectory(root);
        const UnixFileMode dirMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                   | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("chunk stores are created with POSIX modes");
        Directory.CreateDirectory(chunkDir, dirMode);
        for (int i = 0; i < 65536; i++)
            Directory.CreateDirectory(Path.Combine(chunkDir, i.ToString("x4")), dirMode);
        return new LocalChunkStore(root);
    }

    public string ChunkPath(Digest digest) => Path.Combine(ChunkDir, digest.Prefix, digest.ToHex());

    /// <summary>The stored blob; null when absent; an empty array for a 0-byte marker file.</summary>
    public byte[]? TryReadBlob(Digest digest)
    {
        try { return StoreFile.ReadAll(ChunkPath(digest), StoreFileLimits.Blob); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }

    /// <summary>Stored size in bytes, or -1 when absent.</summary>
    public long StoredSize(Digest digest)
    {
        // lstat: a symlink (or anything but a regular file) is no chunk, and is never followed.
        try { return Posix.TryLStat(Posix.PathBytes(ChunkPath(digest))) is { IsRegular: true } st ? st.Size : -1; }
        catch (PosixException e) when (e.Errno == 20 /* ENOTDIR */) { return -1; }
    }

    /// <summary>Refreshes the access time (GC mark); false when the chunk file does not exist.</summary>
    public bool Touch(Digest digest) => ChunkFileTimes.TouchAccessTime(ChunkPath(digest));

    /// <summary>
    /// Stores a chunk unless a non-empty one is there already (that one is touched instead).
    /// A 0-byte marker is replaced by the data.
    /// </summary>
    public ChunkInsertResult Insert(Digest digest, ReadOnlySpan<byte> blob)
    {
        if (blob.Length < DataBlob.HeaderSize) throw new ArgumentException("a chunk blob has at least a 12-byte header", nameof(blob));
        var path = ChunkPath(digest);
        long existing = StoredSize(digest);
        // A failed touch means GC removed the file in the meantime: write it again.
        if (existing > 0 && ChunkFileTimes.TouchAccessTime(path))
            return ChunkInsertResult.AlreadyPresent;
        AtomicFile.Write(path, blob);
        return ChunkInsertResult.Inserted;
    }

    /// <summary>Turns a cached chunk into a 0-byte marker (S3 cache eviction), keeping its atime.</summary>
    public void ReplaceWithMarker(Digest digest) => AtomicFile.Write(ChunkPath(digest), ReadOnlySpan<byte>.Empty);

    public void Remove(Digest digest)
    {
        using var dir = DirectoryHandle.OpenBelow(DatastoreRoot, ChunkDirName + "/" + digest.Prefix);
        dir?.DeleteFile(digest.ToHex());
    }

    /// <summary>
    /// Renames a corrupt chunk to &lt;hex&gt;.&lt;n&gt;.bad with the first free n in 0..9 (PBS's rule),
    /// returning the new path, or null when the chunk file is absent.
    /// </summary>
    public string? RenameCorrupt(Digest digest)
    {
        // Renamed through the prefix directory's descriptor: a symlinked prefix directory is refused.
        using var dir = DirectoryHandle.OpenBelow(DatastoreRoot, ChunkDirName + "/" + digest.Prefix);
        var name = digest.ToHex();
        if (dir?.TryStat(name) is null) return null;
        try
        {
            for (int n = 0; n < 10; n++)
                if (dir.Rename(name, $"{name}.{n}.bad", replace: false)) return $"{ChunkPath(digest)}.{n}.bad";
            dir.Rename(name, $"{name}.9.bad", replace: true);
            return $"{ChunkPath(digest)}.9.bad";
        }
        catch (FileNotFoundException) { return null; }
    }

    public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default)
    {
        var blob = TryReadBlob(digest);
        return ValueTask.FromResult(blob is { Length: 0 } ? null : blob);
    }

    public ValueTask<ChunkBuffer?> ReadBlobBufferAsync(Digest digest, CancellationToken ct = default)
    {
        try
        {
            // Regular files only, at most PBS's chunk size: a FIFO, device or symlink here fails at once.
            using var handle = StoreFile.OpenRegular(ChunkPath(digest), StoreFileLimits.Blob, out long length);
            if (length == 0) return ValueTask.FromResult<ChunkBuffer?>(null); // a marker, not data
            var buffer = ChunkBuffer.Rent((int)length);
            try
            {
                int total = 0;
                while (total < length)
                {
                    int n = RandomAccess.Read(handle, buffer.WritableSpan[total..], total);
                    if (n == 0) throw new FormatCorruptException($"chunk file {ChunkPath(digest)} shrank while being read");
                    total += n;
                }
                return ValueTask.FromResult<ChunkBuffer?>(buffer);
            }
            catch
            {
                buffer.Release();
                throw;
            }
        }
        catch (FileNotFoundException) { return ValueTask.FromResult<ChunkBuffer?>(null); }
        catch (DirectoryNotFoundException) { return ValueTask.FromResult<ChunkBuffer?>(null); }
    }

    public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default)
    {
        // A 0-byte file is a marker or a crash leftover: not a usable chunk here.
        return ValueTask.FromResult(StoredSize(digest) > 0 && Touch(digest));
    }

    public ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default) =>
        ValueTask.FromResult(Insert(digest, blob.Span));
}
