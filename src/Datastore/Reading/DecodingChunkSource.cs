using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Reading;

/// <summary>Reads encoded chunks from a backend and decodes them, checking CRC and digest.</summary>
public sealed class DecodingChunkSource : IChunkSource
{
    private readonly IChunkBackend _backend;

    public DecodingChunkSource(IChunkBackend backend) => _backend = backend;

    public async ValueTask<ReadOnlyMemory<byte>> ReadChunkAsync(Digest digest, CancellationToken ct = default)
    {
        var blob = await _backend.ReadBlobAsync(digest, ct).ConfigureAwait(false);
        if (blob is null) throw new ChunkMissingException(digest);
        return DataBlob.DecodeChunk(digest, blob);
    }
}
