using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// Reads encoded chunks from a backend and decodes them into pooled buffers, checking CRC and digest.
/// Without a key it reads the chunks of `none`/`sign-only` archives; with one, the encrypted chunks
/// of `encrypt` archives (and only those, as PBS's reader insists).
/// </summary>
public sealed class DecodingChunkSource : IChunkSource
{
    private readonly IChunkBackend _backend;
    private readonly CryptKey? _key;

    public DecodingChunkSource(IChunkBackend backend, CryptKey? key = null)
    {
        _backend = backend;
        _key = key;
    }

    public async ValueTask<ChunkBuffer> ReadChunkAsync(Digest digest, CancellationToken ct = default)
    {
        if (_key is null && _backend is IDecodedChunkBackend decoding)
            return await decoding.ReadDecodedAsync(digest, ct).ConfigureAwait(false) ?? throw new ChunkMissingException(digest);
        var blob = await _backend.ReadBlobBufferAsync(digest, ct).ConfigureAwait(false);
        if (blob is null) throw new ChunkMissingException(digest);
        try { return _key is null ? Decode(digest, blob.Span) : EncryptedChunkDecoder.Decode(_key, digest, blob.Span); }
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
