using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// A regular file's payload item (PAYLOAD header + content) cut into chunks and stored before the
/// backup that archives it, with a chunk boundary before and after the item: the boundaries a run of
/// injected reused chunks gets too, so the backup appends these chunks by digest instead of reading,
/// hashing and compressing the file again (staging prepares files this way while a copy runs).
/// </summary>
public sealed class PreparedPayload
{
    private PreparedPayload(DynamicIndexEntry[] chunks, long contentSize)
    {
        Chunks = chunks;
        ContentSize = contentSize;
    }

    /// <summary>The item's chunks; <see cref="DynamicIndexEntry.End"/> counts from the item's header.</summary>
    public IReadOnlyList<DynamicIndexEntry> Chunks { get; }
    /// <summary>The file's content size (the item is <see cref="PxarFormat.HeaderSize"/> bytes more).</summary>
    public long ContentSize { get; }
    public long ItemSize => PxarFormat.HeaderSize + ContentSize;

    /// <summary>
    /// Reads exactly <paramref name="size"/> bytes of <paramref name="content"/>, cuts the item with the
    /// payload chunker (a fresh chunk at its header) and stores the chunks through <paramref name="ingest"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">the content is shorter or longer than <paramref name="size"/> (it changed meanwhile)</exception>
    public static async Task<PreparedPayload> PrepareAsync(Stream content, long size, ChunkIngest ingest,
        int averageChunkSize = Chunker.DefaultAverageSize, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        using var writer = new PayloadArchiveWriter("prepared payload", ingest, averageChunkSize, ct);
        var header = new byte[PxarFormat.HeaderSize];
        PxarHeader.ForContent(PxarFormat.Payload, size).Write(header);
        writer.Write(header);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long left = size;
            while (left > 0)
            {
                int n = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
                if (n == 0) throw new InvalidDataException($"the content ended {left} bytes before its size of {size}");
                // Blocks while the ingest has too many chunks in flight: the back-pressure.
                await Task.Run(() => writer.Write(buffer.AsSpan(0, n)), ct).ConfigureAwait(false);
                left -= n;
            }
            if (await content.ReadAsync(buffer.AsMemory(0, 1), ct).ConfigureAwait(false) != 0)
                throw new InvalidDataException($"the content is longer than its size of {size}");
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
        var (_, index) = await writer.CompleteAsync().ConfigureAwait(false);
        var chunks = new DynamicIndexEntry[index.Count];
        for (int i = 0; i < chunks.Length; i++) chunks[i] = new DynamicIndexEntry(index.ChunkEnd(i), index.DigestAt(i));
        return new PreparedPayload(chunks, size);
    }
}
