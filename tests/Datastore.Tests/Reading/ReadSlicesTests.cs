using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Tests.Reading;

public class ReadSlicesTests
{
    private static byte[] Bytes(ReadSlices slices, byte[] flat)
    {
        if (!slices.IsSliced) return flat[..slices.Length];
        var all = new List<byte>();
        for (int i = 0; i < slices.Count; i++) all.AddRange(slices[i].ToArray());
        return all.ToArray();
    }

    private static void AssertAllReleased(MemorySource source)
    {
        foreach (var buffer in source.HandedOut)
            Assert.False(buffer.TryAddRef(), "a chunk reference was never released");
    }

    [Theory]
    [InlineData(0, 1 << 20)]        // a 1 MiB read from the start
    [InlineData(12_345, 300_000)]   // across chunk boundaries, starting inside one
    [InlineData(1_999_000, 1 << 20)] // running past the end: a short read
    public async Task SlicesHoldTheSameBytesAsACopyingRead(long offset, int size)
    {
        var (index, source, data) = InMemoryArchive.Create(20, 50_000, 150_000);
        var archive = new IndexedArchive(index, source);
        var flat = new byte[size];
        var slices = new ReadSlices(16);
        slices.Reset(flat);

        int n = await archive.ReadSlicesAsync(offset, size, slices);

        int expected = (int)Math.Clamp(data.Length - offset, 0, size);
        Assert.Equal(expected, n);
        Assert.Equal(expected, slices.Length);
        Assert.True(slices.IsSliced || expected == 0);
        Assert.Equal(data.AsSpan((int)Math.Min(offset, data.Length), expected).ToArray(), Bytes(slices, flat));
        slices.Release();
        AssertAllReleased(source);
    }

    [Fact]
    public async Task ManySmallChunksAreCopiedOnceTheSliceLimitIsReached()
    {
        // A hostile (or just fine-grained) index: 200 chunks of 100 bytes in one read.
        var (index, source, data) = InMemoryArchive.Create(200, 100, 100, seed: 3);
        var archive = new IndexedArchive(index, source);
        var flat = new byte[data.Length];
        var slices = new ReadSlices(4);
        slices.Reset(flat);

        int n = await archive.ReadSlicesAsync(0, flat.Length, slices);

        Assert.Equal(data.Length, n);
        Assert.False(slices.IsSliced);
        Assert.Equal(data, flat);
        AssertAllReleased(source); // copied chunks are released at once, not kept
    }

    [Fact]
    public async Task ASourceWithoutChunksCopiesIntoTheFlatBuffer()
    {
        var data = new byte[10_000];
        new Random(4).NextBytes(data);
        IRandomAccessSource plain = new BytesSource(data);
        var flat = new byte[4_000];
        var slices = new ReadSlices(16);
        slices.Reset(flat);

        int n = await plain.ReadSlicesAsync(7_000, 4_000, slices);

        Assert.Equal(3_000, n);
        Assert.False(slices.IsSliced);
        Assert.Equal(data[7_000..], flat[..3_000]);
    }

    [Fact]
    public async Task AFailedChunkLeavesNoReferenceHeld()
    {
        var (index, source, _) = InMemoryArchive.Create(5, 100_000, 100_000, seed: 5);
        source.Corrupt.Add(index.DigestAt(2));
        var archive = new IndexedArchive(index, source);
        var slices = new ReadSlices(16);
        slices.Reset(new byte[400_000]);

        await Assert.ThrowsAsync<BackupFs.Datastore.Formats.ChunkCorruptException>(async () => await archive.ReadSlicesAsync(0, 400_000, slices));
        slices.Release();
        AssertAllReleased(source);
    }

    [Fact]
    public async Task AChunkOfAnotherSizeThanItsIndexEntryIsRefusedAndReleased()
    {
        var (index, source, data) = InMemoryArchive.Create(3, 10_000, 10_000, seed: 6);
        // The index claims the second chunk ends 1,000 bytes later than its data does.
        var lying = new MemoryIndex([10_000, 21_000, 31_000], [index.DigestAt(0), index.DigestAt(1), index.DigestAt(2)]);
        var archive = new IndexedArchive(lying, source);
        var slices = new ReadSlices(16);
        slices.Reset(new byte[30_000]);

        var e = await Assert.ThrowsAsync<BackupFs.Datastore.Formats.ChunkCorruptException>(async () => await archive.ReadSlicesAsync(0, 30_000, slices));
        Assert.Contains("the index says 11000", e.Message);
        Assert.Equal(data[..10_000], slices[0].ToArray()); // the first chunk, read before, is still held
        slices.Release();
        AssertAllReleased(source);
    }

    [Fact]
    public void ASliceOutsideItsChunkOrPastTheReadIsRefusedAndReleased()
    {
        var slices = new ReadSlices(2);
        slices.Reset(new byte[10]);
        var chunk = ChunkBuffer.Rent(8);
        Assert.Throws<ArgumentOutOfRangeException>(() => slices.Add(chunk, 4, 8));
        Assert.False(chunk.TryAddRef());

        var big = ChunkBuffer.Rent(100);
        Assert.Throws<ArgumentOutOfRangeException>(() => slices.Add(big, 0, 11));
        Assert.False(big.TryAddRef());
        Assert.Equal(0, slices.Length);
    }

    [Fact]
    public void ResetReleasesWhatTheLastReadHeld()
    {
        var slices = new ReadSlices(2);
        slices.Reset(new byte[10]);
        var chunk = ChunkBuffer.Rent(10);
        slices.Add(chunk, 0, 10);
        Assert.True(slices.IsSliced);
        slices.Reset(new byte[10]);
        Assert.False(chunk.TryAddRef());
        Assert.Equal(0, slices.Length);
    }

    private sealed class BytesSource(byte[] data) : IRandomAccessSource
    {
        public long Length => data.Length;
        public ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            int n = (int)Math.Clamp(data.Length - offset, 0, buffer.Length);
            data.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }
    }
}
