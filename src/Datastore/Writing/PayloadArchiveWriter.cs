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
    /// Whether the store still holds chunks [<paramref name="first"/>, <paramref name="first"/>+<paramref name="count"/>)
    /// of <paramref name="index"/> (touching them): chunks stored ahead of this backup (<see cref="PreparedPayload"/>)
    /// are appended only when this is true.
    /// </summary>
    public Task<bool> HoldsChunksAsync(DynamicIndex index, int first, int count, CancellationToken ct) =>
        Ingest.HoldsAllAsync(Enumerable.Range(first, count).Select(index.DigestAt), ct);

    /// <summary>Stores the last chunk and returns the finished index file bytes.</summary>
    internal async Task<(byte[] IndexFile, DynamicIndex Index)> CompleteAsync()
    {
        var entries = await CompleteChunksAsync().ConfigureAwait(false);
        var bytes = DynamicIndex.Build(entries);
        return (bytes, DynamicIndex.Parse(bytes));
    }
}
