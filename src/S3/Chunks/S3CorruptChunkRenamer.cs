using BackupFs.Datastore.Store;
using BackupFs.Datastore.Formats;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Chunks;

/// <summary>
/// Verify's handling of a corrupt chunk on an S3 datastore (as PBS): server-side copy to
/// "&lt;hex&gt;.&lt;n&gt;.bad" (first free n of 0..9, else 9 is overwritten), delete the original,
/// and rename the local cache file the same way so the next read fetches nothing stale.
/// </summary>
public static class S3CorruptChunkRenamer
{
    /// <summary>Returns the new object key, or null when the chunk is not in the bucket.</summary>
    public static async Task<string?> RenameAsync(S3ChunkBackend backend, Digest digest, CancellationToken ct = default)
    {
        var client = backend.Client;
        var layout = backend.Layout;
        var key = layout.ChunkObjectKey(digest);
        backend.ForgetCached(digest);
        backend.Cache?.RenameCorrupt(digest);

        if (await client.HeadAsync(key, ct).ConfigureAwait(false) == null) return null;
        var used = new HashSet<int>();
        await foreach (var o in client.ListAsync(key + ".", ct: ct).ConfigureAwait(false))
            if (layout.TryParseChunkKey(o.Key, out var c) && c.BadIndex is int n) used.Add(n);
        int free = Enumerable.Range(0, 10).FirstOrDefault(n => !used.Contains(n), 9);
        var badKey = layout.BadChunkObjectKey(digest, free);
        await client.CopyAsync(key, badKey, ct).ConfigureAwait(false);
        await client.DeleteAsync(key, ct).ConfigureAwait(false);
        return badKey;
    }
}
