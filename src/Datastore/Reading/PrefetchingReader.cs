using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// One open archive with readahead: when reads run sequentially, the next chunks are fetched in
/// the background (several in flight) so a slow source (S3) overlaps with the reader's work.
/// Random access keeps working; it just stops the readahead until reads are sequential again.
/// Memory stays bounded by the shared chunk cache plus the window.
/// </summary>
public sealed class PrefetchingReader : IRandomAccessSource
{
    private readonly IChunkIndex _index;
    private readonly CachedChunkSource _chunks;
    private readonly IndexedArchive _archive;
    private readonly int _window;
    private long _nextExpected = -1;
    private int _prefetchedUpTo = -1;
    private int _sequentialRun;

    public PrefetchingReader(IChunkIndex index, CachedChunkSource chunks, int windowChunks = 4)
    {
        _index = index;
        _chunks = chunks;
        _archive = new IndexedArchive(index, chunks);
        _window = Math.Max(1, windowChunks);
    }

    public long Length => _index.Size;
    public IChunkIndex Index => _index;

    public async ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        ScheduleReadahead(offset, buffer.Length);
        return await _archive.ReadAtAsync(offset, buffer, ct).ConfigureAwait(false);
    }

    private void ScheduleReadahead(long offset, int length)
    {
        long expected = Interlocked.Exchange(ref _nextExpected, offset + length);
        // The first read of a file counts as sequential: most opens are followed by a full read.
        bool sequential = expected < 0 ? offset == 0 : offset == expected;
        _sequentialRun = sequential ? _sequentialRun + 1 : 0;
        if (!sequential) { _prefetchedUpTo = -1; return; }

        int current = _index.FindChunk(offset);
        if (current < 0) return;
        int last = Math.Min(_index.Count - 1, current + _window);
        for (int i = Math.Max(current + 1, _prefetchedUpTo + 1); i <= last; i++)
            _chunks.Prefetch(_index.DigestAt(i));
        _prefetchedUpTo = Math.Max(_prefetchedUpTo, last);
    }
}
