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

    /// <summary>
    /// Reads <paramref name="count"/> bytes from <paramref name="offset"/> into <paramref name="into"/>,
    /// as slices of its chunks where the source has them (see <see cref="ReadSlices"/>); returns
    /// fewer only at the end of the data. A source without chunks copies.
    /// </summary>
    async ValueTask<int> ReadSlicesAsync(long offset, int count, ReadSlices into, CancellationToken ct = default)
    {
        int n = await ReadAtAsync(offset, into.FlatRemaining()[..count], ct).ConfigureAwait(false);
        into.Advance(n);
        return n;
    }
}
