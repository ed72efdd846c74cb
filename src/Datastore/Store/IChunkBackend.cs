using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Store;

public enum ChunkInsertResult { Inserted, AlreadyPresent }

/// <summary>
/// Where encoded chunks (DataBlobs) live: a local chunk store, or an object store with a local
/// cache in front. Readers, writers and caches compose over this seam.
/// </summary>
public interface IChunkBackend
{
    /// <summary>The chunk's encoded DataBlob bytes as stored, or null when the store does not have it.</summary>
    ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default);

    /// <summary>
    /// The same bytes in a pooled buffer the caller releases; backends that read files override
    /// this so reading does not allocate a new array per chunk.
    /// </summary>
    async ValueTask<ChunkBuffer?> ReadBlobBufferAsync(Digest digest, CancellationToken ct = default)
    {
        var blob = await ReadBlobAsync(digest, ct).ConfigureAwait(false);
        return blob is null ? null : ChunkBuffer.Wrap(blob);
    }

    /// <summary>
    /// True when the chunk is known to be stored, so a writer can skip encoding and uploading it.
    /// Like PBS, a hit refreshes the chunk's access time so a running GC keeps it.
    /// </summary>
    ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default);

    /// <summary>Stores an encoded chunk atomically; an existing chunk is never rewritten.</summary>
    ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default);
}
