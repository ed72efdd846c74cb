namespace BackupFs.Datastore.Reading;

/// <summary>A read-only byte stream with random access: an archive reassembled from chunks, or a plain file.</summary>
public interface IRandomAccessSource
{
    long Length { get; }
    /// <summary>
    /// Fills <paramref name="buffer"/> from <paramref name="offset"/>; returns fewer bytes only at
    /// the end of the data (0 at or past the end).
    /// </summary>
    ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default);
}
