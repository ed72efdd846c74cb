using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// One open archive with readahead: when reads run sequentially, the chunks ahead are loaded in
/// the background, several at once, so disk or network reads and decoding overlap with the reader
/// and with each other. The window grows with the sequential run (twice the bytes read so far,
/// at least <c>windowChunks</c> chunks) up to <see cref="MaxAheadBytes"/>, and never beyond half
/// the chunk cache, so prefetched chunks are not evicted before they are read. Random access
/// keeps working; it just loads nothing ahead. A failed prefetch is only reported to a read that
/// needs that chunk (it loads it again).
/// </summary>
public sealed class PrefetchingReader : IRandomAccessSource
{
    /// <summary>How far ahead a long sequential run loads: 8 average chunks, enough parallel GETs to fill a link.</summary>
    public const long MaxAheadBytes = 32L * 1024 * 1024;
    /// <summary>Reads this close to where the last one ended still count as sequential (the kernel issues readahead out of order).</summary>
    private const long Slack = 2L * 1024 * 1024;

    private readonly IChunkIndex _index;
    private readonly CachedChunkSource _chunks;
    private readonly IndexedArchive _archive;
    private readonly int _minChunks;
    private readonly long _maxAhead;
    private readonly Lock _lock = new();
    private long _streamEnd = -1;     // end of the furthest read of the current sequential stream
    private long _streamStart;
    private long _lastEnd = -1, _previousEnd = -1;   // ends of the last two reads of any kind (a stream may start there)
    private int _prefetchedUpTo = -1;

    public PrefetchingReader(IChunkIndex index, CachedChunkSource chunks, int windowChunks = 4)
    {
        _index = index;
        _chunks = chunks;
        _archive = new IndexedArchive(index, chunks);
        _minChunks = Math.Max(1, windowChunks);
        _maxAhead = Math.Max(1, Math.Min(MaxAheadBytes, chunks.Capacity / 2));
    }

    public long Length => _index.Size;
    public IChunkIndex Index => _index;

    public async ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        ScheduleReadahead(offset, buffer.Length);
        return await _archive.ReadAtAsync(offset, buffer, ct).ConfigureAwait(false);
    }

    public async ValueTask<int> ReadSlicesAsync(long offset, int count, ReadSlices into, CancellationToken ct = default)
    {
        ScheduleReadahead(offset, count);
        return await _archive.ReadSlicesAsync(offset, count, into, ct).ConfigureAwait(false);
    }

    private void ScheduleReadahead(long offset, int length)
    {
        if (offset < 0 || offset >= _index.Size || length <= 0) return;
        int first, last;
        lock (_lock)
        {
            long end = Math.Min(offset + length, _index.Size);
            bool continues = _streamEnd >= 0
                             && (Math.Abs(offset - _streamEnd) <= Slack || offset >= _streamStart && offset <= _streamEnd);
            // A stream starts at the beginning, or right where one of the last two reads ended.
            bool starts = !continues && (offset == 0 || offset == _lastEnd || offset == _previousEnd);
            _previousEnd = _lastEnd;
            _lastEnd = end;
            if (starts)
            {
                _streamStart = offset;
                _streamEnd = end;
                _prefetchedUpTo = -1;
            }
            else if (continues) _streamEnd = Math.Max(_streamEnd, end);
            else return;

            int current = _index.FindChunk(_streamEnd - 1);
            if (current < 0) return;
            long ahead = Math.Clamp(2 * (_streamEnd - _streamStart), 1, _maxAhead);
            last = current;
            while (last + 1 < _index.Count && (last - current < _minChunks || _index.ChunkEnd(last) < _streamEnd + ahead))
            {
                // Memory bound: never more than the window past the stream, whatever windowChunks asks.
                if (last > current && _index.ChunkEnd(last + 1) - _streamEnd > _maxAhead) break;
                last++;
            }
            // The chunks a long read spans after its first one are loaded in parallel too.
            first = Math.Max(_index.FindChunk(offset) + 1, _prefetchedUpTo + 1);
            if (first > last) return;
            _prefetchedUpTo = last;
        }
        for (int i = first; i <= last; i++)
            _chunks.Prefetch(_index.DigestAt(i));
    }
}
