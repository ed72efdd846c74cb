using System.Buffers;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// Decodes an encrypted chunk into a pooled buffer: CRC, GCM tag, then (for the compressed magic)
/// zstd, then the keyed digest SHA-256(plain ‖ id_key). Uncompressed chunks are decrypted straight
/// into the result buffer; nothing unauthenticated is ever handed out.
/// </summary>
public static class EncryptedChunkDecoder
{
    /// <exception cref="ChunkCorruptException">bad CRC, zstd frame or digest, or a plain chunk in an encrypted archive</exception>
    /// <exception cref="CryptoException">tag check failed: wrong key or tampered chunk</exception>
    public static ChunkBuffer Decode(CryptKey key, Digest digest, ReadOnlySpan<byte> blob)
    {
        bool compressed;
        try
        {
            if (!EncryptedBlob.IsEncrypted(blob))
                throw new ChunkCorruptException(digest, "Index and chunk CryptMode don't match (the archive is encrypted, the chunk is not)");
            compressed = EncryptedBlob.CheckHeader(blob);
        }
        catch (ChunkCorruptException) { throw; }
        catch (FormatCorruptException e) { throw new ChunkCorruptException(digest, e.Message, e); }

        int payload = blob.Length - EncryptedBlob.HeaderSize;
        ChunkBuffer? result = null;
        try
        {
            if (!compressed)
            {
                result = ChunkBuffer.Rent(payload);
                Decrypt(key, digest, blob, result.WritableSpan);
            }
            else
            {
                var frame = ArrayPool<byte>.Shared.Rent(Math.Max(payload, 1));
                try
                {
                    Decrypt(key, digest, blob, frame);
                    var span = frame.AsSpan(0, payload);
                    int size = DataBlob.FrameContentSize(span);
                    try
                    {
                        if (size < 0) result = ChunkBuffer.Wrap(DataBlob.Decompress(span));
                        else
                        {
                            result = ChunkBuffer.Rent(size);
                            if (DataBlob.DecompressInto(span, result.WritableSpan) != size)
                                throw new FormatCorruptException("zstd frame shorter than its content size");
                        }
                    }
                    catch (FormatCorruptException e) { throw new ChunkCorruptException(digest, e.Message, e); }
                }
                finally { ArrayPool<byte>.Shared.Return(frame); }
            }
            if (key.ComputeDigest(result.Span) != digest)
                throw new ChunkCorruptException(digest, "detected chunk with wrong digest");
            return result;
        }
        catch
        {
            result?.Release();
            throw;
        }
    }

    private static void Decrypt(CryptKey key, Digest digest, ReadOnlySpan<byte> blob, Span<byte> destination)
    {
        try { EncryptedBlob.Decrypt(key, blob, destination); }
        catch (CryptoException e) { throw new CryptoException($"chunk {digest}: {e.Message}", e); }
    }
}
