using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Writing;

/// <summary>An image archive (.fidx): fixed-size chunks (4 MiB by default), the last one shorter.</summary>
public sealed class FixedArchiveWriter : ArchiveWriterBase
{
    private readonly int _chunkSize;

    internal FixedArchiveWriter(string name, ChunkIngest ingest, int chunkSize, CancellationToken ct)
        : base(name, ingest, chunkSize, ct)
    {
        if (chunkSize <= 0 || (chunkSize & (chunkSize - 1)) != 0) throw new ArgumentException("chunk size must be a power of two");
        _chunkSize = chunkSize;
    }

    protected override int NextCut(ReadOnlySpan<byte> data, out bool cut)
    {
        int room = _chunkSize - PendingLength;
        cut = data.Length >= room;
        return Math.Min(room, data.Length);
    }

    internal async Task<(byte[] IndexFile, FixedIndex Index)> CompleteAsync()
    {
        var entries = await CompleteChunksAsync().ConfigureAwait(false);
        if (entries.Count == 0) throw new Formats.BackupFsException($"image {Name} is empty; PBS refuses empty fixed indexes");
        var bytes = FixedIndex.Build(BytesWritten, _chunkSize, entries.Select(e => e.Digest).ToList());
        return (bytes, FixedIndex.Parse(bytes));
    }
}
