using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.S3.Chunks;

/// <summary>
/// Interim stand-in for BackupFs.Datastore.Store.LocalChunkStore (same API) until it is merged:
/// the local cache's chunk files, .chunks/&lt;4 hex&gt;/&lt;64 hex&gt;, a 0-byte file being a marker.
/// </summary>
internal sealed class LocalChunkStore
{
    public string DatastoreRoot { get; }
    public string ChunkDir { get; }

    public LocalChunkStore(string datastoreRoot)
    {
        DatastoreRoot = Path.GetFullPath(datastoreRoot);
        ChunkDir = Path.Combine(DatastoreRoot, ".chunks");
        if (!Directory.Exists(ChunkDir)) throw new BackupFsException($"{DatastoreRoot} is not a datastore (no .chunks directory)");
    }

    public static LocalChunkStore Create(string datastoreRoot)
    {
        var chunkDir = Path.Combine(Path.GetFullPath(datastoreRoot), ".chunks");
        Directory.CreateDirectory(chunkDir);
        for (int i = 0; i < 65536; i++) Directory.CreateDirectory(Path.Combine(chunkDir, i.ToString("x4")));
        return new LocalChunkStore(datastoreRoot);
    }

    public string ChunkPath(Digest digest) => Path.Combine(ChunkDir, digest.Prefix, digest.ToHex());

    public byte[]? TryReadBlob(Digest digest)
    {
        try { return File.ReadAllBytes(ChunkPath(digest)); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }

    public long StoredSize(Digest digest)
    {
        var info = new FileInfo(ChunkPath(digest));
        return info.Exists ? info.Length : -1;
    }

    public bool Touch(Digest digest)
    {
        var path = ChunkPath(digest);
        try { File.SetLastAccessTimeUtc(path, DateTime.UtcNow); return true; }
        catch (FileNotFoundException) { return false; }
        catch (DirectoryNotFoundException) { return false; }
    }

    public ChunkInsertResult Insert(Digest digest, ReadOnlySpan<byte> blob)
    {
        if (StoredSize(digest) > 0) { Touch(digest); return ChunkInsertResult.AlreadyPresent; }
        Write(ChunkPath(digest), blob);
        return ChunkInsertResult.Inserted;
    }

    public void ReplaceWithMarker(Digest digest) => Write(ChunkPath(digest), ReadOnlySpan<byte>.Empty);

    public void Remove(Digest digest)
    {
        try { File.Delete(ChunkPath(digest)); } catch (DirectoryNotFoundException) { }
    }

    public string? RenameCorrupt(Digest digest)
    {
        var path = ChunkPath(digest);
        if (!File.Exists(path)) return null;
        for (int n = 0; n < 10; n++)
        {
            var bad = $"{path}.{n}.bad";
            if (File.Exists(bad)) continue;
            File.Move(path, bad);
            return bad;
        }
        File.Move(path, $"{path}.9.bad", overwrite: true);
        return $"{path}.9.bad";
    }

    private static void Write(string path, ReadOnlySpan<byte> data)
    {
        var tmp = path + ".tmp_" + Random.Shared.Next().ToString("x8");
        using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write)) fs.Write(data);
        File.Move(tmp, path, overwrite: true);
    }
}
