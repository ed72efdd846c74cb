namespace BackupFs.Datastore.Formats;

/// <summary>
/// Chunker for the payload stream of a split pxar archive (.ppxar): the content-defined
/// <see cref="Chunker"/>, plus boundaries the archive writer suggests where a file's payload
/// starts, so unchanged files tend to keep whole chunks of their own. A suggested boundary is
/// taken when the chunk it ends is within [<see cref="MinSize"/>, <see cref="MaxSize"/>];
/// otherwise the hash decides as usual.
/// </summary>
/// <remarks>
/// The chunker tracks stream offsets itself: <see cref="Position"/> is the offset of the next byte
/// to feed, <see cref="ChunkStart"/> the offset where the current chunk began. A hash or maximum-size
/// boundary that falls before a pending suggestion still wins, so the result does not depend on how
/// the caller slices the data it feeds. (PBS takes a suggestion that lies inside the data it was
/// handed without scanning the bytes before it; both agree whenever the writer suggests the offset
/// it is about to write, which is how a pxar writer uses it.)
/// </remarks>
public sealed class PayloadChunker
{
    private readonly Chunker _chunker;
    private readonly Queue<long> _suggestions = new();

    /// <param name="averageSize">as for <see cref="Chunker"/></param>
    /// <param name="streamOffset">stream offset of the first byte that will be fed</param>
    public PayloadChunker(int averageSize = Chunker.DefaultAverageSize, long streamOffset = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(streamOffset);
        _chunker = new Chunker(averageSize);
        ChunkStart = streamOffset;
    }

    public int AverageSize => _chunker.AverageSize;
    public int MinSize => _chunker.MinSize;
    public int MaxSize => _chunker.MaxSize;

    /// <summary>Stream offset where the current chunk began.</summary>
    public long ChunkStart { get; private set; }

    /// <summary>Stream offset of the next byte to feed.</summary>
    public long Position => ChunkStart + _chunker.CurrentLength;

    /// <summary>Suggested boundaries still ahead of <see cref="Position"/>.</summary>
    public int PendingSuggestions => _suggestions.Count;

    /// <summary>
    /// Tells the chunker that a file payload starts at <paramref name="streamOffset"/>.
    /// An offset ahead of <see cref="Position"/> is remembered (in order) and honoured by
    /// <see cref="Scan"/>. An offset equal to <see cref="Position"/> is decided at once: when the
    /// current chunk's size is within [min, max] the chunk ends here and this returns true (the
    /// caller closes the chunk it holds; the next byte starts a new one). Offsets already passed,
    /// and offsets that would make a chunk too small, are ignored.
    /// </summary>
    public bool SuggestBoundary(long streamOffset)
    {
        long position = Position;
        if (streamOffset > position)
        {
            _suggestions.Enqueue(streamOffset);
            return false;
        }
        if (streamOffset < position) return false;
        long size = position - ChunkStart;
        if (size < MinSize || size > MaxSize) return false;
        _chunker.Reset();
        ChunkStart = position;
        return true;
    }

    /// <summary>
    /// Same contract as <see cref="Chunker.Scan"/>: returns n &gt; 0 when a chunk ends after
    /// <c>data[n-1]</c> (hash, maximum size or a suggested boundary), 0 when all of
    /// <paramref name="data"/> belongs to the current chunk.
    /// </summary>
    public int Scan(ReadOnlySpan<byte> data)
    {
        long position = Position;
        while (_suggestions.TryPeek(out long boundary))
        {
            long size = boundary - ChunkStart;
            if (boundary <= position || size < MinSize)
            {
                _suggestions.Dequeue(); // passed, or it would end a chunk below the minimum
                continue;
            }
            if (size > MaxSize) break; // the hash or the maximum size cuts first; keep it for later

            long distance = boundary - position;
            if (distance > data.Length) break; // not reached within this data

            int cut = _chunker.Scan(data[..(int)distance]);
            if (cut > 0) return Advance(position, cut); // a hash boundary comes first
            _suggestions.Dequeue();
            return Advance(position, (int)distance);
        }
        int n = _chunker.Scan(data);
        return n > 0 ? Advance(position, n) : 0;
    }

    /// <summary>
    /// Ends the current chunk at <see cref="Position"/> (a boundary the caller forces, e.g. before
    /// reused chunks it injects) and starts the next chunk at <paramref name="nextChunkStart"/>,
    /// which is past the injected data; the default is <see cref="Position"/>.
    /// </summary>
    public void Reset(long? nextChunkStart = null)
    {
        long position = Position;
        long next = nextChunkStart ?? position;
        if (next < position)
            throw new ArgumentOutOfRangeException(nameof(nextChunkStart), $"the next chunk cannot start at {next}, before the current position {position}");
        _chunker.Reset();
        ChunkStart = next;
    }

    private int Advance(long position, int cut)
    {
        _chunker.Reset();
        ChunkStart = position + cut;
        return cut;
    }
}
