using System.Globalization;
using System.Security.Cryptography;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using static BackupFs.Datastore.Tests.Formats.ChunkerStreams;

namespace BackupFs.Datastore.Tests.Formats;

public class ChunkerTests
{
    private static string VectorFile(string name) => Path.Combine(TestPaths.Vectors, "chunker", name);

    [Fact]
    public void BuzhashTableEqualsReferenceList()
    {
        var lines = File.ReadAllLines(VectorFile("buzhash-table.txt")).Where(l => l.Trim().Length > 0).ToList();
        Assert.Equal(256, lines.Count);
        foreach (var line in lines)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int index = int.Parse(parts[0], CultureInfo.InvariantCulture);
            uint value = uint.Parse(parts[1].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            Assert.Equal(value, BuzHashTable.Values[index]);
        }
    }

    [Fact]
    public void BuzhashTableHashEqualsSecondPass()
    {
        // formats-second-pass.md §5.1: SHA-256 of the table as 1024 little-endian bytes.
        var bytes = new byte[1024];
        for (int i = 0; i < 256; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * i), BuzHashTable.Values[i]);
        Assert.Equal("5b52080d38287da9d2e278466e3e0db7ec98e5e8b226f50612a56fa012b1f660", Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [Theory]
    [InlineData("chunker-40MiB-avg4MiB.txt", "chunker", 40 * 1024 * 1024, 4 * 1024 * 1024)]
    [InlineData("chunker-small-4MiB-avg64KiB.txt", "chunker-small", 4 * 1024 * 1024, 64 * 1024)]
    public void BoundariesEqualReferenceVectors(string file, string prefix, int length, int average)
    {
        var expected = ReadEnds(VectorFile(file));
        var data = HashBlocks(prefix, length);
        Assert.Equal(expected, Ends(new Chunker(average).Scan, data));
        // Feeding odd-sized pieces must not move any boundary.
        Assert.Equal(expected, Ends(new Chunker(average).Scan, data, feed: 100_003));
    }

    [Fact]
    public void ZerosAreCutAtTheMaximumSize()
    {
        var expected = ReadEnds(VectorFile("zeros-20MiB-avg4MiB.txt"));
        Assert.Equal(expected, Ends(new Chunker().Scan, new byte[20 * 1024 * 1024]));
        Assert.Equal(new long[] { 16777216, 33554432, 41943040 }, Ends(new Chunker().Scan, new byte[40 * 1024 * 1024]));
    }

    [Fact]
    public void CountingWordsMatchFormatsVector()
    {
        var sizes = Sizes(Ends(new Chunker(64 * 1024).Scan, CountingWords()));
        Assert.Equal(new long[] { 143377, 262144, 262144, 262144, 118767 }, sizes);
    }

    [Fact]
    public void LcgStreamMatchesFormatsVector()
    {
        long[] expected = [10128996, 1102367, 5522542, 2487976, 2242622, 1701699, 1595074, 1879028, 4305039,
            1802245, 11162790, 9712525, 1924450, 4488577, 1974259, 2682880, 2395795];
        Assert.Equal(expected, Sizes(Ends(new Chunker().Scan, Lcg(64 * 1024 * 1024))));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(4096)]
    public void FeedSizeDoesNotMatter(int feed)
    {
        var data = CountingWords();
        var whole = Ends(new Chunker(64 * 1024).Scan, data);
        Assert.Equal(whole, Ends(new Chunker(64 * 1024).Scan, data, feed));
        var random = HashBlocks("feed", 1024 * 1024);
        Assert.Equal(Ends(new Chunker(4096).Scan, random), Ends(new Chunker(4096).Scan, random, feed));
    }

    /// <summary>PBS's algorithm as written: every byte rolled through the hash, no shortcut.</summary>
    private static List<long> NaiveEnds(byte[] data, int average)
    {
        uint mask = 2 * (uint)average - 1, threshold = mask - 2;
        int min = average / 4, max = average * 4;
        var ends = new List<long>();
        uint h = 0;
        int length = 0;
        for (int i = 0; i < data.Length; i++)
        {
            h = System.Numerics.BitOperations.RotateLeft(h, 1) ^ BuzHashTable.Values[data[i]];
            if (length >= Chunker.WindowSize) h ^= BuzHashTable.Values[data[i - Chunker.WindowSize]];
            length++;
            if (length > Chunker.WindowSize && (length >= max || (length >= min && (h & mask) >= threshold)))
            {
                ends.Add(i + 1);
                h = 0;
                length = 0;
            }
        }
        if (length > 0) ends.Add(data.Length);
        return ends;
    }

    [Theory]
    [InlineData(4096, int.MaxValue)]
    [InlineData(4096, 1000)]
    [InlineData(65536, 70_000)]
    [InlineData(65536, 100)]
    [InlineData(1 << 20, 1 << 20)]
    public void SkippingBelowTheMinimumCutsWhereRollingEveryByteCuts(int average, int feed)
    {
        // Random data (cuts spread above the minimum) and zeros (cuts at the maximum), fed in pieces
        // that end inside, at and across the skipped stretch.
        var data = HashBlocks("skip", 12 << 20);
        Array.Clear(data, 3 << 20, 5 << 20);
        Assert.Equal(NaiveEnds(data, average), Ends(new Chunker(average).Scan, data, feed));
    }

    [Fact]
    public void SmallestAverageStillHonoursWindowAndLimits()
    {
        // avg 64: min 16 is inside the 64-byte window fill, so the first possible cut is after byte 65.
        var chunker = new Chunker(64);
        Assert.Equal((64, 16, 256), (chunker.AverageSize, chunker.MinSize, chunker.MaxSize));
        var sizes = Sizes(Ends(chunker.Scan, HashBlocks("tiny", 100_000)));
        Assert.All(sizes.SkipLast(1), s => Assert.InRange(s, 65, 256));
        Assert.Equal(100_000, sizes.Sum());
    }

    [Fact]
    public void DefaultParameters()
    {
        var chunker = new Chunker();
        Assert.Equal(4 * 1024 * 1024, chunker.AverageSize);
        Assert.Equal(1024 * 1024, chunker.MinSize);
        Assert.Equal(16 * 1024 * 1024, chunker.MaxSize);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    [InlineData(3 * 1024 * 1024)]
    [InlineData(65535)]
    [InlineData(32)]
    [InlineData(512 * 1024 * 1024)]
    public void RejectsBadAverage(int average) => Assert.ThrowsAny<ArgumentException>(() => new Chunker(average));

    [Fact]
    public void ResetStartsAFreshChunk()
    {
        var data = HashBlocks("reset", 300_000);
        var chunker = new Chunker(4096);
        chunker.Scan(data.AsSpan(0, 500)); // partial chunk, then abandoned
        chunker.Reset();
        Assert.Equal(Ends(new Chunker(4096).Scan, data), Ends(chunker.Scan, data));
    }

    [Fact]
    public void EmptyInputIsNoBoundary() => Assert.Equal(0, new Chunker().Scan(ReadOnlySpan<byte>.Empty));
}
