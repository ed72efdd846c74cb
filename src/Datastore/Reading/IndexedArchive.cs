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
            long start = Index.ChunkStart(i), end = Index.ChunkEnd(i);
            var data = await _chunks.ReadChunkAsync(Index.DigestAt(i), ct).ConfigureAwait(false);
            int n;
            try
            {
                if (data.Length != end - start)
                    throw new ChunkCorruptException(Index.DigestAt(i), $"chunk has {data.Length} bytes but the index says {end - start}");
                int inChunk = (int)(offset - start);
                n = (int)Math.Min(buffer.Length - total, end - offset);
                data.Span.Slice(inChunk, n).CopyTo(buffer.Span.Slice(total));
            }
            finally { data.Release(); }
            total += n;
            offset += n;
        }
        return total;
    }
}
