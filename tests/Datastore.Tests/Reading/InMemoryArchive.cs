using System.Collections.Concurrent;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Tests.Reading;

/// <summary>An archive of chunks of uneven sizes held in memory.</summary>
internal sealed class MemoryIndex : IChunkIndex
{
    private readonly long[] _ends;
    private readonly Digest[] _digests;
    public MemoryIndex(long[] ends, Digest[] digests) { _ends = ends; _digests = digests; }
    public int Count => _ends.Length;
    public long Size => _ends.Length == 0 ? 0 : _ends[^1];
    public Digest DigestAt(int index) => _digests[index];
    public long ChunkStart(int index) => index == 0 ? 0 : _ends[index - 1];
    public long ChunkEnd(int index) => _ends[index];
    public int FindChunk(long offset)
    {
        if (offset < 0 || offset >= Size) return -1;
        int i = Array.BinarySearch(_ends, offset);
        return i >= 0 ? i + 1 : ~i;
    }
    public ReadOnlySpan<byte> Checksum => default;
}

/// <summary>Chunks by digest; records what was asked for, can hold loads back and fail chosen chunks.</summary>
internal sealed class MemorySource : IChunkSource
{
    private readonly Dictionary<Digest, byte[]> _chunks;
    public readonly ConcurrentQueue<Digest> Requested = new();
    public readonly HashSet<Digest> Corrupt = new();
    /// <summary>Every buffer returned, to check that the readers released them.</summary>
    public readonly ConcurrentQueue<ChunkBuffer> HandedOut = new();
    public TaskCompletionSource Gate { get; set; } = CompletedGate();
    public int Finished;
    public MemorySource(Dictionary<Digest, byte[]> chunks) => _chunks = chunks;

    private static TaskCompletionSource CompletedGate()
    {
        var tcs = new TaskCompletionSource();
        tcs.SetResult();
        return tcs;
    }

    public async ValueTask<ChunkBuffer> ReadChunkAsync(Digest digest, CancellationToken ct = default)
    {
        Requested.Enqueue(digest);
        try
        {
            await Gate.Task.ConfigureAwait(false);
            if (Corrupt.Contains(digest)) throw new ChunkCorruptException(digest, "content does not match its digest");
            var data = _chunks[digest];
            var buffer = ChunkBuffer.Rent(data.Length);
            data.CopyTo(buffer.WritableSpan);
            HandedOut.Enqueue(buffer);
            return buffer;
        }
        finally { Interlocked.Increment(ref Finished); }
    }
}

/// <summary>Archives of random chunks of uneven sizes, with their index, their chunk source and their bytes.</summary>
internal static class InMemoryArchive
{
    public static (MemoryIndex Index, MemorySource Source, byte[] Data) Create(int chunks, int minSize, int maxSize, int seed = 1)
    {
        var rng = new Random(seed);
        var ends = new long[chunks];
        var digests = new Digest[chunks];
        var map = new Dictionary<Digest, byte[]>();
        using var all = new MemoryStream();
        for (int i = 0; i < chunks; i++)
        {
            var data = new byte[rng.Next(minSize, maxSize + 1)];
            rng.NextBytes(data);
            digests[i] = Digest.Compute(data);
            map[digests[i]] = data;
            all.Write(data);
            ends[i] = all.Length;
        }
        return (new MemoryIndex(ends, digests), new MemorySource(map), all.ToArray());
    }
}
