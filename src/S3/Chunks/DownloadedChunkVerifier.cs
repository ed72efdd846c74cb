using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Chunks;

/// <summary>
/// Checks a chunk downloaded from the bucket before it is used or cached: an unencrypted chunk
/// must decode to its digest; an encrypted one (no key here) must at least have a valid CRC.
/// </summary>
internal static class DownloadedChunkVerifier
{
    /// <summary>Null when the blob is good, else why not.</summary>
    public static string? Check(Digest digest, ReadOnlySpan<byte> blob)
    {
        try
        {
            var kind = DataBlob.GetKind(blob);
            if (kind is BlobKind.Encrypted or BlobKind.EncryptedCompressed)
                return DataBlob.CrcMatches(blob) ? null : "CRC-32 mismatch";
            DataBlob.DecodeChunk(digest, blob);
            return null;
        }
        catch (FormatCorruptException e)
        {
            return e.Message;
        }
    }
}
