using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// The payload archive of a split pxar snapshot (.ppxar.didx): cut by <see cref="PayloadChunker"/>,
/// which honours boundaries suggested where a file's PAYLOAD header starts, and able to append
/// chunks reused from a previous snapshot's payload index by digest and size (never read).
/// </summary>
public sealed class PayloadArchiveWriter : ArchiveWriterBase
{
    private readonly PayloadChunker _chunker;

    /// <summary>A payload stream of its own (e.g. one file's item cut ahead of a backup).</summary>
    public PayloadArchiveWriter(string name, ChunkIngest ingest, int averageChunkSize, CancellationToken ct)
        : base(name, ingest, averageChunkSize * 4, ct) => _chunker = new PayloadChunker(averageChunkSize);

    /// <summary>Suggests a chunk boundary at a stream offset (a file's PAYLOAD header); pass it before writing that byte.</summary>
    public void SuggestBoundary(long streamOffset)
    {
        if (_chunker.SuggestBoundary(streamOffset)) CutChunk();
    }

    protected override int NextCut(ReadOnlySpan<byte> data, out bool cut)
    {
        int n = _chunker.Scan(data);
        cut = n > 0;
        return cut ? n : data.Length;
    }

    /// <summary>
    /// Forces a boundary, then appends chunks [<paramref name="first"/>, <paramref name="first"/>+<paramref name="count"/>)
    /// of <paramref name="previous"/> (the previous snapshot's payload index) as they are.
    /// Returns the new stream offset of the first appended chunk; an offset <c>o</c> inside the
    /// reused range of the old stream maps to <c>result + (o - previous.ChunkStart(first))</c>.
    /// The caller advances its pxar encoder's payload position by the appended size.
    /// </summary>
    public long InjectReusedChunks(DynamicIndex previous, int first, int count)
    {
        if (first < 0 || count < 0 || first + count > previous.Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"chunks {first}..{first + count} are outside the previous index ({previous.Count} chunks)");
        var reused = new (Digest, long)[count];
        for (int i = 0; i < count; i++)
        {
            int c = first + i;
            reused[i] = (previous.DigestAt(c), previous.ChunkEnd(c) - previous.ChunkStart(c));
        }
        long start = AppendKnownChunks(reused);
        _chunker.Reset(BytesWritten);
        return start;
    }

    /// <summary>
    /// Forces a boundary, then appends the chunks of a file's payload item stored ahead
    /// (<see cref="PreparedPayload"/>) by digest. Returns the new stream offset of the item's header,
    /// or -1 when the store no longer holds one of the chunks (nothing is appended: the caller
    /// encodes the file). The caller advances its pxar encoder's payload position by the item size.
    /// </summary>
    public async Task<long> InjectPreparedAsync(PreparedPayload prepared, CancellationToken ct)
    {
        if (!await Ingest.HoldsAllAsync(prepared.Chunks.Select(static c => c.Digest), ct).ConfigureAwait(false)) return -1;
        var chunks = new (Digest, long)[prepared.Chunks.Count];
        long start = 0;
        for (int i = 0; i < chunks.Length; i++)
        {
            var c = prepared.Chunks[i];
            chunks[i] = (c.Digest, c.End - start);
            start = c.End;
        }
        long at = AppendKnownChunks(chunks);
        _chunker.Reset(BytesWritten);
        return at;
    }

    /// <summary>Stores the last chunk and returns the finished index file bytes.</summary>
    internal async Task<(byte[] IndexFile, DynamicIndex Index)> CompleteAsync()
    {
        var entries = await CompleteChunksAsync().ConfigureAwait(false);
        var bytes = DynamicIndex.Build(entries);
        return (bytes, DynamicIndex.Parse(bytes));
    }
}
