using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>Decoded, digest-verified chunk data by digest. Caches and prefetchers wrap this.</summary>
public interface IChunkSource
{
    /// <exception cref="ChunkMissingException">the store has no such chunk</exception>
    /// <exception cref="ChunkCorruptException">the stored bytes do not decode to the digest</exception>
    ValueTask<ReadOnlyMemory<byte>> ReadChunkAsync(Digest digest, CancellationToken ct = default);
}
