using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Writing;

/// <summary>A stream archive (.didx): content-defined chunks from PBS's chunker.</summary>
public sealed class DynamicArchiveWriter : ArchiveWriterBase
{
    private readonly Chunker _chunker;

    internal DynamicArchiveWriter(string name, ChunkIngest ingest, int averageChunkSize, CancellationToken ct)
        : base(name, ingest, averageChunkSize * 4, ct) => _chunker = new Chunker(averageChunkSize);

    protected override int NextCut(ReadOnlySpan<byte> data, out bool cut)
    {
        int n = _chunker.Scan(data);
        cut = n > 0;
        return cut ? n : data.Length;
    }

    /// <summary>Stores the last chunk and returns the finished index file bytes.</summary>
    internal async Task<(byte[] IndexFile, DynamicIndex Index)> CompleteAsync()
    {
        var entries = await CompleteChunksAsync().ConfigureAwait(false);
        var bytes = DynamicIndex.Build(entries);
        return (bytes, DynamicIndex.Parse(bytes));
    }
}
