using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// A chunk backend that decodes plain chunks itself (to verify a download before caching it) and
/// hands the decoded data over, so the reader does not decompress and hash the chunk a second time.
/// </summary>
public interface IDecodedChunkBackend
{
    /// <summary>The decoded, digest-checked data of an unencrypted chunk (the caller releases it), or null when absent.</summary>
    /// <exception cref="ChunkCorruptException">the stored bytes do not decode to the digest</exception>
    /// <exception cref="EncryptedDataException">the chunk is encrypted</exception>
    ValueTask<ChunkBuffer?> ReadDecodedAsync(Digest digest, CancellationToken ct = default);
}
