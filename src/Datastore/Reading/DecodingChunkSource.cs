using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Reading;

/// <summary>Reads encoded chunks from a backend and decodes them into pooled buffers, checking CRC and digest.</summary>
public sealed class DecodingChunkSource : IChunkSource
{
    private readonly IChunkBackend _backend;

    public DecodingChunkSource(IChunkBackend backend) => _backend = backend;

    public async ValueTask<ChunkBuffer> ReadChunkAsync(Digest digest, CancellationToken ct = default)
    {
        var blob = await _backend.ReadBlobBufferAsync(digest, ct).ConfigureAwait(false);
        if (blob is null) throw new ChunkMissingException(digest);
        try { return Decode(digest, blob.Span); }
        finally { blob.Release(); }
    }

    public static ChunkBuffer Decode(Digest digest, ReadOnlySpan<byte> blob)
    {
        int size;
        try { size = DataBlob.DecodedSizeHint(blob); }
        catch (EncryptedDataException) { throw; }
        catch (FormatCorruptException e) { throw new ChunkCorruptException(digest, e.Message, e); }
        if (size < 0) return ChunkBuffer.Wrap(DataBlob.DecodeChunk(digest, blob)); // old frame without a content size

        var buffer = ChunkBuffer.Rent(size);
        try
        {
            int n;
            try { n = DataBlob.DecodeInto(blob, buffer.WritableSpan); }
            catch (EncryptedDataException) { throw; }
            catch (FormatCorruptException e) { throw new ChunkCorruptException(digest, e.Message, e); }
            if (n != size || Digest.Compute(buffer.Span) != digest)
                throw new ChunkCorruptException(digest, "content does not match its digest");
            return buffer;
        }
        catch
        {
            buffer.Release();
            throw;
        }
    }
}
