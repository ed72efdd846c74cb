using System.Buffers.Binary;
using System.Security.Cryptography;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using static BackupFs.Datastore.Tests.Formats.IndexTestFiles;

namespace BackupFs.Datastore.Tests.Formats;

public class FixedIndexTests
{
    private static readonly byte[] Uuid = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();

    private static byte[] Sample(long size = 10 * 1024 * 1024 + 5, long chunkSize = FixedIndex.DefaultChunkSize)
    {
        int count = (int)((size + chunkSize - 1) / chunkSize);
        return FixedIndex.Build(size, chunkSize, Enumerable.Range(0, count).Select(D).ToList(), Uuid, 1_700_000_000);
    }

    [Fact]
    public void RoundTrip()
    {
        var digests = Enumerable.Range(0, 3).Select(D).ToList();
        var file = FixedIndex.Build(10 * 1024 * 1024 + 5, FixedIndex.DefaultChunkSize, digests, Uuid, 1_700_000_000);
        Assert.Equal(FixedIndex.HeaderSize + 3 * 32, file.Length);
        Assert.Equal(BlobMagic.FixedIndex.ToArray(), file[..8]);
        Assert.All(file[80..4096], b => Assert.Equal(0, b)); // reserved

        var index = FixedIndex.Parse(file);
        Assert.Equal(Uuid, index.Uuid);
        Assert.Equal(1_700_000_000, index.CTime);
        Assert.Equal(10 * 1024 * 1024 + 5, index.Size);
        Assert.Equal(FixedIndex.DefaultChunkSize, index.ChunkSize);
        Assert.Equal(3, index.Count);
        Assert.Equal(digests, Enumerable.Range(0, 3).Select(index.DigestAt));
        Assert.Equal(FixedIndex.ComputeChecksum(digests), index.Checksum.ToArray());
        Assert.Equal(SHA256.HashData(file.AsSpan(4096)), index.Checksum.ToArray());
    }

    [Fact]
    public void ChunkRangesAndFindChunkAtBoundaries()
    {
        var index = FixedIndex.Parse(Sample());
        const long cs = FixedIndex.DefaultChunkSize;
        Assert.Equal((0L, cs), (index.ChunkStart(0), index.ChunkEnd(0)));
        Assert.Equal((cs, 2 * cs), (index.ChunkStart(1), index.ChunkEnd(1)));
        Assert.Equal((2 * cs, index.Size), (index.ChunkStart(2), index.ChunkEnd(2))); // short last chunk
        Assert.Equal(0, index.FindChunk(0));
        Assert.Equal(0, index.FindChunk(cs - 1));
        Assert.Equal(1, index.FindChunk(cs));
        Assert.Equal(2, index.FindChunk(2 * cs));
        Assert.Equal(2, index.FindChunk(index.Size - 1));
        Assert.Equal(-1, index.FindChunk(index.Size));
        Assert.Equal(-1, index.FindChunk(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.DigestAt(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.ChunkStart(-1));
    }

    [Fact]
    public void ExactMultipleHasNoShortChunk()
    {
        var index = FixedIndex.Parse(Sample(size: 8 * 65536, chunkSize: 65536));
        Assert.Equal(8, index.Count);
        Assert.Equal(8 * 65536, index.ChunkEnd(7));
    }

    [Fact]
    public void DefaultsAreRandomV4UuidAndNow()
    {
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var a = FixedIndex.Parse(FixedIndex.Build(100, 4096, [D(0)]));
        var b = FixedIndex.Parse(FixedIndex.Build(100, 4096, [D(0)]));
        Assert.InRange(a.CTime, before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.NotEqual(a.Uuid, b.Uuid);
        Assert.Equal(0x40, a.Uuid[6] & 0xf0);
        Assert.Equal(0x80, a.Uuid[8] & 0xc0);
    }

    [Fact]
    public void WrongMagicIsCorrupt()
    {
        var file = Sample();
        file[3] ^= 1;
        Assert.Contains("magic", Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(file)).Message);
        // A dynamic index is not a fixed one.
        Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(DynamicIndex.Build([new(10, D(0))])));
    }

    [Fact]
    public void WrongSizeIsCorrupt()
    {
        var file = Sample();
        Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(file.AsMemory(0, file.Length - 1)));
        Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(file.Concat(new byte[32]).ToArray()));
        Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(file.AsMemory(0, 100)));
        // Header claims a bigger image than there are digests for.
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(64), 20 * 1024 * 1024);
        Assert.Contains("needs", Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(FixChecksum(file))).Message);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(3_000_000UL)]
    [InlineData(1UL << 40)]
    public void BadChunkSizeIsCorrupt(ulong chunkSize)
    {
        var file = Sample();
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(72), chunkSize);
        Assert.Contains("chunk size", Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(FixChecksum(file))).Message);
    }

    [Fact]
    public void ZeroAndHugeImageSizesAreCorrupt()
    {
        var file = Sample();
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(64), 0);
        Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(file));
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(64), ulong.MaxValue);
        Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(file));
    }

    [Fact]
    public void BadChecksumIsCorrupt()
    {
        var file = Sample();
        file[^1] ^= 1; // a digest changed after the checksum was written
        Assert.Contains("checksum", Assert.Throws<FormatCorruptException>(() => FixedIndex.Parse(file)).Message);
    }

    [Fact]
    public void LoadNamesThePath()
    {
        using var dir = new TempDir();
        var path = dir.Sub("bad.img.fidx");
        File.WriteAllBytes(path, new byte[5000]);
        Assert.Contains(path, Assert.Throws<FormatCorruptException>(() => FixedIndex.Load(path)).Message);
        File.WriteAllBytes(path, Sample());
        Assert.Equal(3, FixedIndex.Load(path).Count);
    }

    [Fact]
    public void BuildRejectsBadArguments()
    {
        Assert.ThrowsAny<ArgumentException>(() => FixedIndex.Build(0, 4096, []));
        Assert.ThrowsAny<ArgumentException>(() => FixedIndex.Build(100, 3000, [D(0)]));
        Assert.ThrowsAny<ArgumentException>(() => FixedIndex.Build(5000, 4096, [D(0)]));
        Assert.ThrowsAny<ArgumentException>(() => FixedIndex.Build(100, 4096, [D(0)], uuid: new byte[15]));
    }

    [Fact]
    public void StoreVectorImageIndex()
    {
        // vectors/README: a 9 MiB + 12345 byte image, block i = SHA-256("image:<i>"), 4 MiB chunks.
        var path = Assert.Single(StoreIndexes(".fidx"));
        var index = FixedIndex.Load(path);
        Assert.Equal(9 * 1024 * 1024 + 12345, index.Size);
        Assert.Equal(FixedIndex.DefaultChunkSize, index.ChunkSize);
        Assert.Equal(3, index.Count);

        var image = ChunkerStreams.HashBlocks("image", (int)index.Size);
        for (int i = 0; i < index.Count; i++)
        {
            var slice = image.AsSpan((int)index.ChunkStart(i), (int)(index.ChunkEnd(i) - index.ChunkStart(i)));
            Assert.Equal(Digest.Compute(slice), index.DigestAt(i));
            Assert.Equal(slice.ToArray(), DataBlob.DecodeChunk(index.DigestAt(i), File.ReadAllBytes(ChunkPath(index.DigestAt(i)))));
        }
    }
}
