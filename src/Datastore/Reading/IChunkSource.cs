using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>Decoded, digest-verified chunk data by digest. Caches and prefetchers wrap this.</summary>
public interface IChunkSource
{
    /// <summary>
    /// The chunk's plain data. The caller owns one reference of the returned buffer and must
    /// <see cref="ChunkBuffer.Release"/> it when done.
    /// </summary>
    /// <exception cref="ChunkMissingException">the store has no such chunk</exception>
    /// <exception cref="ChunkCorruptException">the stored bytes do not decode to the digest</exception>
    ValueTask<ChunkBuffer> ReadChunkAsync(Digest digest, CancellationToken ct = default);
}
