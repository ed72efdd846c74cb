using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Tests.Reading;

public class PrefetchingReaderTests
{
    private static async Task<byte[]> ReadAsync(PrefetchingReader reader, long offset, int length)
    {
        var buffer = new byte[length];
        int n = await reader.ReadAtAsync(offset, buffer);
        return buffer[..n];
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(131072)]
    [InlineData(100_003)]   // reads straddle chunk boundaries at every odd place
    public async Task SequentialReadsReturnTheArchive(int readSize)
    {
        var (index, source, data) = InMemoryArchive.Create(40, 1_000, 90_000);
        using var cache = new CachedChunkSource(source, 8L << 20);
        var reader = new PrefetchingReader(index, cache, windowChunks: 4);
        using var read = new MemoryStream();
        for (long offset = 0; offset < data.Length; offset += readSize)
            read.Write(await ReadAsync(reader, offset, readSize));
        Assert.Equal(data, read.ToArray());
        Assert.Empty(await ReadAsync(reader, data.Length, 10));
    }

    [Fact]
    public async Task SequentialReadsLoadChunksAhead()
    {
        var (index, source, _) = InMemoryArchive.Create(200, 50_000, 50_000);
        using var cache = new CachedChunkSource(source, 64L << 20);
        var reader = new PrefetchingReader(index, cache, windowChunks: 4);
        await ReadAsync(reader, 0, 4096);
        // The first read of an open counts as sequential: the chunk and at least four after it are on their way.
        Assert.True(cache.Misses >= 5, $"{cache.Misses} loads started");
        for (long offset = 4096; offset < 2_000_000; offset += 65536) await ReadAsync(reader, offset, 65536);
        // After 2 MB read sequentially the window is 4 MB ahead: far beyond the four chunks of the start.
        Assert.True(cache.Misses >= 100, $"{cache.Misses} loads started");
    }

    [Fact]
    public async Task RandomReadsReturnTheRightBytesAndLoadOnlyWhatTheyNeed()
    {
        var (index, source, data) = InMemoryArchive.Create(60, 1_000, 40_000, seed: 2);
        using var cache = new CachedChunkSource(source, 64L << 20);
        var reader = new PrefetchingReader(index, cache, windowChunks: 4);
        var rng = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            long offset = rng.NextInt64(1, data.Length);
            int length = rng.Next(1, 90_000);
            long missesBefore = cache.Misses;
            var got = await ReadAsync(reader, offset, length);
            int expected = (int)Math.Min(length, data.Length - offset);
            Assert.Equal(data.AsSpan((int)offset, expected).ToArray(), got);
            // Far jumps start no readahead: only the chunks the read covers were loaded.
            int covered = index.FindChunk(offset + expected - 1) - index.FindChunk(offset) + 1;
            Assert.True(cache.Misses - missesBefore <= covered, $"read {i} loaded {cache.Misses - missesBefore} chunks for {covered}");
        }
    }

    [Fact]
    public async Task ReadsArrivingSlightlyOutOfOrderStaySequential()
    {
        var (index, source, data) = InMemoryArchive.Create(100, 30_000, 30_000);
        using var cache = new CachedChunkSource(source, 64L << 20);
        var reader = new PrefetchingReader(index, cache, windowChunks: 2);
        var result = new byte[data.Length];
        // The kernel's readahead: pairs of 128 KiB reads, the second of each pair answered first.
        const int Block = 131072;
        for (long offset = 0; offset < data.Length; offset += 2 * Block)
        {
            foreach (long o in new[] { offset + Block, offset })
                if (o < data.Length)
                {
                    int n = await reader.ReadAtAsync(o, result.AsMemory((int)o, (int)Math.Min(Block, data.Length - o)));
                    Assert.Equal(Math.Min(Block, data.Length - o), n);
                }
            if (offset > 1_000_000) break;
        }
        Assert.Equal(data.AsSpan(0, 1_000_000).ToArray(), result.AsSpan(0, 1_000_000).ToArray());
        // Readahead kept going: well beyond the first megabyte was loaded.
        Assert.True(cache.Misses * 30_000 > 2_000_000, $"{cache.Misses} loads started");
    }

    [Fact]
    public async Task ACorruptChunkAheadFailsOnlyTheReadsThatNeedIt()
    {
        var (index, source, data) = InMemoryArchive.Create(20, 10_000, 10_000);
        source.Corrupt.Add(index.DigestAt(5));
        using var cache = new CachedChunkSource(source, 8L << 20);
        var reader = new PrefetchingReader(index, cache, windowChunks: 8);
        // Chunks 0..4 read fine although chunk 5 is in the readahead window from the first read on.
        Assert.Equal(data.AsSpan(0, 50_000).ToArray(), await ReadAsync(reader, 0, 50_000));
        // (Loads run on the thread pool: wait until chunk 5's has been asked for and failed.)
        for (int i = 0; i < 3000 && !(source.Requested.Contains(index.DigestAt(5)) && Volatile.Read(ref source.Finished) >= source.Requested.Count); i++)
            await Task.Delay(10);
        Assert.Contains(index.DigestAt(5), source.Requested);
        var e = await Assert.ThrowsAsync<ChunkCorruptException>(() => ReadAsync(reader, 49_000, 2_000));
        Assert.Equal(index.DigestAt(5), e.Digest);
        await Assert.ThrowsAsync<ChunkCorruptException>(() => ReadAsync(reader, 50_000, 10_000));
        // Past it everything reads again.
        Assert.Equal(data.AsSpan(60_000, 140_000).ToArray(), await ReadAsync(reader, 60_000, 140_000));
    }

    [Fact]
    public async Task ReadaheadStaysWithinTheWindowAndHalfTheCache()
    {
        var (index, source, data) = InMemoryArchive.Create(200, 65_536, 65_536);
        var position = Enumerable.Range(0, index.Count).ToDictionary(index.DigestAt);
        using var cache = new CachedChunkSource(source, 1L << 20);   // window: at most 512 KiB ahead
        var reader = new PrefetchingReader(index, cache, windowChunks: 4);
        for (long offset = 0; offset < data.Length; offset += 65536)
        {
            await ReadAsync(reader, offset, 65536);
            long readEnd = Math.Min(offset + 65536, data.Length);
            // Everything requested so far lies within 512 KiB plus one chunk past what was read.
            int furthest = source.Requested.Max(d => position[d]);
            Assert.True(index.ChunkEnd(furthest) - readEnd <= 512 << 10, $"chunk {furthest} requested at {readEnd}");
            Assert.True(cache.CachedBytes <= cache.Capacity);
        }
    }

    [Fact]
    public async Task CancellingAReadAndDisposingTheCacheWithLoadsInFlightLeavesNothingBehind()
    {
        var (index, source, _) = InMemoryArchive.Create(30, 20_000, 20_000);
        source.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cache = new CachedChunkSource(source, 8L << 20);
        var reader = new PrefetchingReader(index, cache, windowChunks: 6);
        using var cts = new CancellationTokenSource();
        var read = ReadAsync(reader, 0, 4096);
        long started = cache.Misses;
        Assert.True(started >= 7, $"{started} loads started");
        // The reader gives up (an interrupted request, an unmount) while its chunks are still loading.
        var cancelled = reader.ReadAtAsync(0, new byte[10], cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        cache.Dispose();
        source.Gate.SetResult();
        // Every load finishes and hands its data back instead of filling a disposed cache.
        for (int i = 0; i < 3000 && Volatile.Read(ref source.Finished) < started; i++) await Task.Delay(10);
        Assert.Equal(started, Volatile.Read(ref source.Finished));
        await Assert.ThrowsAnyAsync<Exception>(() => read);
        Assert.Equal(0, cache.CachedBytes);
    }
}
