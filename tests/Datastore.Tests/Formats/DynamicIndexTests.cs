using System.Buffers.Binary;
using System.Security.Cryptography;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using static BackupFs.Datastore.Tests.Formats.IndexTestFiles;

namespace BackupFs.Datastore.Tests.Formats;

public class DynamicIndexTests
{
    private static readonly byte[] Uuid = Enumerable.Range(100, 16).Select(i => (byte)i).ToArray();
    private static readonly List<DynamicIndexEntry> Entries = [new(1000, D(0)), new(1500, D(1)), new(1501, D(2)), new(9000, D(3))];

    [Fact]
    public void RoundTrip()
    {
        var file = DynamicIndex.Build(Entries, Uuid, 1_234_567_890);
        Assert.Equal(DynamicIndex.HeaderSize + 4 * 40, file.Length);
        Assert.Equal(BlobMagic.DynamicIndex.ToArray(), file[..8]);
        Assert.All(file[64..4096], b => Assert.Equal(0, b)); // reserved

        var index = DynamicIndex.Parse(file);
        Assert.Equal(Uuid, index.Uuid);
        Assert.Equal(1_234_567_890, index.CTime);
        Assert.Equal(4, index.Count);
        Assert.Equal(9000, index.Size);
        Assert.Equal(Entries, Enumerable.Range(0, 4).Select(index.EntryAt));
        Assert.Equal(DynamicIndex.ComputeChecksum(Entries), index.Checksum.ToArray());
        Assert.Equal(SHA256.HashData(file.AsSpan(4096)), index.Checksum.ToArray());
    }

    [Fact]
    public void EntryLayoutIsEndThenDigest()
    {
        var file = DynamicIndex.Build(Entries, Uuid, 0);
        Assert.Equal(1500UL, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(4096 + 40)));
        Assert.Equal(D(1).ToArray(), file[(4096 + 48)..(4096 + 80)]);
    }

    [Fact]
    public void ChunkRangesAndFindChunkAtBoundaries()
    {
        var index = DynamicIndex.Parse(DynamicIndex.Build(Entries, Uuid, 0));
        Assert.Equal((0L, 1000L), (index.ChunkStart(0), index.ChunkEnd(0)));
        Assert.Equal((1500L, 1501L), (index.ChunkStart(2), index.ChunkEnd(2)));
        Assert.Equal(0, index.FindChunk(0));
        Assert.Equal(0, index.FindChunk(999));
        Assert.Equal(1, index.FindChunk(1000));
        Assert.Equal(1, index.FindChunk(1499));
        Assert.Equal(2, index.FindChunk(1500));
        Assert.Equal(3, index.FindChunk(1501));
        Assert.Equal(3, index.FindChunk(8999));
        Assert.Equal(-1, index.FindChunk(9000));
        Assert.Equal(-1, index.FindChunk(-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => index.DigestAt(4));
    }

    [Fact]
    public void FindChunkAgreesWithLinearSearch()
    {
        var entries = new List<DynamicIndexEntry>();
        long end = 0;
        var random = new Random(7);
        for (int i = 0; i < 300; i++) entries.Add(new(end += random.Next(1, 50), D(i)));
        var index = DynamicIndex.Parse(DynamicIndex.Build(entries));
        for (long offset = 0; offset < index.Size; offset++)
            Assert.Equal(entries.FindIndex(e => e.End > offset), index.FindChunk(offset));
    }

    [Fact]
    public void EmptyIndex()
    {
        var index = DynamicIndex.Parse(DynamicIndex.Build([]));
        Assert.Equal(0, index.Count);
        Assert.Equal(0, index.Size);
        Assert.Equal(-1, index.FindChunk(0));
    }

    [Fact]
    public void WrongMagicIsCorrupt()
    {
        var file = DynamicIndex.Build(Entries);
        file[0] = 0;
        Assert.Contains("magic", Assert.Throws<FormatCorruptException>(() => DynamicIndex.Parse(file)).Message);
        Assert.Throws<FormatCorruptException>(() => DynamicIndex.Parse(FixedIndex.Build(100, 4096, [D(0)])));
    }

    [Fact]
    public void WrongSizeIsCorrupt()
    {
        var file = DynamicIndex.Build(Entries);
        Assert.Throws<FormatCorruptException>(() => DynamicIndex.Parse(file.AsMemory(0, file.Length - 1)));
        Assert.Throws<FormatCorruptException>(() => DynamicIndex.Parse(file.AsMemory(0, 4095)));
        Assert.Throws<FormatCorruptException>(() => DynamicIndex.Parse(FixChecksum(file.Concat(new byte[39]).ToArray())));
    }

    [Fact]
    public void BadChecksumIsCorrupt()
    {
        var file = DynamicIndex.Build(Entries);
        file[4096 + 100] ^= 0x80;
        Assert.Contains("checksum", Assert.Throws<FormatCorruptException>(() => DynamicIndex.Parse(file)).Message);
    }

    [Theory]
    [InlineData(1, 1000UL)]       // equal to the previous end: an empty chunk
    [InlineData(2, 1200UL)]       // smaller than the previous end
    [InlineData(0, 0UL)]          // first chunk empty
    [InlineData(3, ulong.MaxValue)] // beyond any stream size
    public void NonIncreasingEndsAreCorrupt(int entry, ulong end)
    {
        var file = DynamicIndex.Build(Entries);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(4096 + entry * 40), end);
        Assert.Contains($"entry {entry}", Assert.Throws<FormatCorruptException>(() => DynamicIndex.Parse(FixChecksum(file))).Message);
    }

    [Fact]
    public void BuildRejectsNonIncreasingEnds()
    {
        Assert.Throws<ArgumentException>(() => DynamicIndex.Build([new(10, D(0)), new(10, D(1))]));
        Assert.Throws<ArgumentException>(() => DynamicIndex.Build([new(0, D(0))]));
    }

    [Fact]
    public void PbsFixturePayloadIndex()
    {
        // proxmox-backup tests/pxar/backup-client-pxar-data.ppxar.didx (formats.md §8)
        var path = Path.Combine(TestPaths.Vectors, "pbs-fixtures", "backup-client-pxar-data.ppxar.didx");
        Assert.Equal("e9b28d2e12925fae074a6526aa8deb05087fc9138ccc46a0b6497633e8f46e0e", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        var index = DynamicIndex.Load(path);
        Assert.Equal(100, index.Count);
        Assert.Equal(104_859_232, index.Size);
        Assert.Equal(1715091951, index.CTime);
        // First chunk = start marker (16) + payload header (16) + 1 MiB of file data (formats.md §6.6).
        Assert.Equal(1048608, index.ChunkEnd(0));
        Assert.Equal(99, index.FindChunk(index.Size - 1));
    }

    [Theory]
    [InlineData("root.pxar.didx", "A.pxar")]
    [InlineData("root.mpxar.didx", "A.mpxar")]
    [InlineData("root.ppxar.didx", "A.ppxar")]
    public void StoreVectorStreamIndexes(string indexName, string streamName)
    {
        var path = Assert.Single(StoreIndexes(".didx"), p => Path.GetFileName(p) == indexName);
        var index = DynamicIndex.Load(path);
        var stream = File.ReadAllBytes(Path.Combine(TestPaths.Vectors, "pxar", streamName));
        Assert.Equal(stream.Length, index.Size);
        for (int i = 0; i < index.Count; i++)
        {
            var slice = stream.AsSpan((int)index.ChunkStart(i), (int)(index.ChunkEnd(i) - index.ChunkStart(i)));
            Assert.Equal(Digest.Compute(slice), index.DigestAt(i));
            Assert.Equal(slice.ToArray(), DataBlob.DecodeChunk(index.DigestAt(i), File.ReadAllBytes(ChunkPath(index.DigestAt(i)))));
        }
    }
}
