using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// An archive (.fidx image or .didx stream) as a random-access byte source: the chunk for an
/// offset is found by the index (binary search over dynamic end offsets), chunks come from a
/// chunk source, and a read spanning chunk boundaries is filled completely.
/// </summary>
public sealed class IndexedArchive : IRandomAccessSource
{
    public IChunkIndex Index { get; }
    private readonly IChunkSource _chunks;

    public IndexedArchive(IChunkIndex index, IChunkSource chunks)
    {
        Index = index;
        _chunks = chunks;
    }

    public long Length => Index.Size;

    public async ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset));
        int total = 0;
        while (total < buffer.Length && offset < Index.Size)
        {
            int i = Index.FindChunk(offset);
            if (i < 0) break;
            var (data, inChunk, n) = await ChunkAtAsync(i, offset, buffer.Length - total, ct).ConfigureAwait(false);
            try { data.Span.Slice(inChunk, n).CopyTo(buffer.Span.Slice(total)); }
            finally { data.Release(); }
            total += n;
            offset += n;
        }
        return total;
    }

    /// <summary>As <see cref="ReadAtAsync"/>, but hands over slices of the chunks instead of copying them.</summary>
    public async ValueTask<int> ReadSlicesAsync(long offset, int count, ReadSlices into, CancellationToken ct = default)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset));
        int total = 0;
        while (total < count && offset < Index.Size)
        {
            int i = Index.FindChunk(offset);
            if (i < 0) break;
            var (data, inChunk, n) = await ChunkAtAsync(i, offset, count - total, ct).ConfigureAwait(false);
            into.Add(data, inChunk, n);
            total += n;
            offset += n;
        }
        return total;
    }

    /// <summary>Chunk <paramref name="i"/>, which holds <paramref name="offset"/> (one reference taken for the
    /// caller), where in it the offset lies, and how many of its bytes from there a read of <paramref name="wanted"/> takes.</summary>
    private async ValueTask<(ChunkBuffer Data, int InChunk, int Count)> ChunkAtAsync(int i, long offset, int wanted, CancellationToken ct)
    {
        long start = Index.ChunkStart(i), end = Index.ChunkEnd(i);
        var data = await _chunks.ReadChunkAsync(Index.DigestAt(i), ct).ConfigureAwait(false);
        if (data.Length != end - start)
        {
            data.Release();
            throw new ChunkCorruptException(Index.DigestAt(i), $"chunk has {data.Length} bytes but the index says {end - start}");
        }
        return (data, (int)(offset - start), (int)Math.Min(wanted, end - offset));
    }
}
