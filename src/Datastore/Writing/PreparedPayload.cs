using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// A regular file's payload item (PAYLOAD header + content) cut into chunks and stored before the
/// backup that archives it. Items are cut in runs (one file, or consecutive files of a directory)
/// with a chunk boundary before and after the run: the boundaries a run of injected reused chunks
/// gets too. The backup appends the run's chunks by digest instead of reading, hashing and
/// compressing the files again, exactly as it appends chunks reused from a previous snapshot.
/// </summary>
public sealed class PreparedPayload
{
    private PreparedPayload(DynamicIndex run, long headerOffset, long contentSize)
    {
        Run = run;
        HeaderOffset = headerOffset;
        ContentSize = contentSize;
    }

    /// <summary>The chunks of the run this item was cut in (offsets count from the run's start).</summary>
    public DynamicIndex Run { get; }
    /// <summary>Where this item's PAYLOAD header starts in <see cref="Run"/>.</summary>
    public long HeaderOffset { get; }
    /// <summary>The file's content size (the item is <see cref="PxarFormat.HeaderSize"/> bytes more).</summary>
    public long ContentSize { get; }
    public long ItemSize => PxarFormat.HeaderSize + ContentSize;

    /// <summary>One file as a run of its own.</summary>
    /// <exception cref="InvalidDataException">the content is shorter or longer than <paramref name="size"/> (it changed meanwhile)</exception>
    public static async Task<PreparedPayload> PrepareAsync(Stream content, long size, ChunkIngest ingest,
        int averageChunkSize = Chunker.DefaultAverageSize, CancellationToken ct = default) =>
        (await PrepareRunAsync([size], (_, _) => ValueTask.FromResult(content), ingest, averageChunkSize, ct).ConfigureAwait(false))[0];

    /// <summary>
    /// Cuts the items of consecutive files (sizes <paramref name="sizes"/>, contents opened in order by
    /// <paramref name="open"/>, each disposed after) as one run: a fresh chunk at the first header, a
    /// suggested boundary at every later header as the archive writer suggests them, and a cut after
    /// the last item. The chunks are stored through <paramref name="ingest"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">a content is shorter or longer than its size (it changed meanwhile)</exception>
    public static async Task<PreparedPayload[]> PrepareRunAsync(IReadOnlyList<long> sizes, Func<int, CancellationToken, ValueTask<Stream>> open,
        ChunkIngest ingest, int averageChunkSize = Chunker.DefaultAverageSize, CancellationToken ct = default)
    {
        using var writer = new PayloadArchiveWriter("prepared payload", ingest, averageChunkSize, ct);
        var offsets = new long[sizes.Count];
        var header = new byte[PxarFormat.HeaderSize];
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (int i = 0; i < sizes.Count; i++)
            {
                long size = sizes[i];
                ArgumentOutOfRangeException.ThrowIfNegative(size);
                offsets[i] = writer.BytesWritten;
                if (i > 0) writer.SuggestBoundary(offsets[i]);
                PxarHeader.ForContent(PxarFormat.Payload, size).Write(header);
                writer.Write(header);
                await using var content = await open(i, ct).ConfigureAwait(false);
                long left = size;
                while (left > 0)
                {
                    int n = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
                    if (n == 0) throw new InvalidDataException($"the content ended {left} bytes before its size of {size}");
                    writer.Write(buffer.AsSpan(0, n)); // blocks while the ingest has too many chunks in flight: the back-pressure
                    left -= n;
                }
                if (await content.ReadAsync(buffer.AsMemory(0, 1), ct).ConfigureAwait(false) != 0)
                    throw new InvalidDataException($"the content is longer than its size of {size}");
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
        var (_, run) = await writer.CompleteAsync().ConfigureAwait(false);
        var items = new PreparedPayload[sizes.Count];
        for (int i = 0; i < items.Length; i++) items[i] = new PreparedPayload(run, offsets[i], sizes[i]);
        return items;
    }
}
