namespace BackupFs.Datastore.Formats;

/// <summary>
/// What both index kinds (.fidx, .didx) offer a reader: chunk count, the byte range and digest of
/// each chunk, and the chunk that holds an offset.
/// </summary>
public interface IChunkIndex
{
    int Count { get; }
    /// <summary>Total size of the data the index describes.</summary>
    long Size { get; }
    Digest DigestAt(int index);
    long ChunkStart(int index);
    long ChunkEnd(int index);
    /// <summary>Index of the chunk that contains <paramref name="offset"/>, or -1 outside [0, Size).</summary>
    int FindChunk(long offset);
    /// <summary>The index checksum (SHA-256 over the entries) the manifest records as csum.</summary>
    ReadOnlySpan<byte> Checksum { get; }
}
