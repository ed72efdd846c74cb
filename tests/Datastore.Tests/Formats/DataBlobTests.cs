using System.Buffers.Binary;
using System.IO.Hashing;
using BackupFs.Datastore.Formats;
using static BackupFs.Datastore.Tests.Formats.ChunkerStreams;

namespace BackupFs.Datastore.Tests.Formats;

public class DataBlobTests
{
    private static readonly byte[] Compressible = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("Proxmox Backup Server blob test pattern. ", 200)));

    [Fact]
    public void PlainRoundTrip()
    {
        var data = HashBlocks("plain", 1000);
        var blob = DataBlob.Encode(data, compress: false);
        Assert.Equal(DataBlob.HeaderSize + data.Length, blob.Length);
        Assert.Equal(BlobMagic.Uncompressed.ToArray(), blob[..8]);
        Assert.Equal(Crc32.HashToUInt32(data), BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(8)));
        Assert.Equal(BlobKind.Uncompressed, DataBlob.GetKind(blob));
        Assert.Equal(data, DataBlob.Decode(blob));
    }

    [Fact]
    public void CompressedRoundTrip()
    {
        var blob = DataBlob.Encode(Compressible, compress: true);
        Assert.Equal(BlobKind.Compressed, DataBlob.GetKind(blob));
        Assert.True(blob.Length < Compressible.Length / 4);
        Assert.True(DataBlob.CrcMatches(blob));
        Assert.Equal(Compressible, DataBlob.Decode(blob));
    }

    [Fact]
    public void CompressionIsDroppedWhenItDoesNotHelp()
    {
        var random = HashBlocks("incompressible", 4096);
        var blob = DataBlob.Encode(random, compress: true);
        Assert.Equal(BlobKind.Uncompressed, DataBlob.GetKind(blob));
        Assert.Equal(DataBlob.HeaderSize + random.Length, blob.Length);
        Assert.Equal(random, DataBlob.Decode(blob));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EmptyData(bool compress)
    {
        var blob = DataBlob.Encode([], compress);
        Assert.Equal(DataBlob.HeaderSize, blob.Length);
        Assert.Empty(DataBlob.Decode(blob));
    }

    [Fact]
    public void StreamingFrameWithoutContentSizeDecodes()
    {
        // PBS ≤ 3.2.8 wrote zstd frames with a streaming encoder: no content size in the frame header.
        using var output = new MemoryStream();
        using (var zstd = new ZstdSharp.CompressionStream(output, 1))
            zstd.Write(Compressible);
        var frame = output.ToArray();
        Assert.Equal(0, frame[4] & 0xe0); // frame header: no content-size field, not single-segment
        Assert.Equal(Compressible, DataBlob.Decode(MakeBlob(BlobMagic.Compressed, frame)));
    }

    [Fact]
    public void CrcMismatchIsCorrupt()
    {
        var blob = DataBlob.Encode(Compressible);
        blob[^1] ^= 0x40;
        Assert.False(DataBlob.CrcMatches(blob));
        var e = Assert.Throws<FormatCorruptException>(() => DataBlob.Decode(blob));
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void TruncatedBlobIsCorrupt()
    {
        var blob = DataBlob.Encode(Compressible);
        Assert.Throws<FormatCorruptException>(() => DataBlob.Decode(blob.AsSpan(0, 11)));
        Assert.Throws<FormatCorruptException>(() => DataBlob.Decode(ReadOnlySpan<byte>.Empty));
        // Cut inside the payload: the CRC no longer matches.
        Assert.Throws<FormatCorruptException>(() => DataBlob.Decode(blob.AsSpan(0, blob.Length - 5)));
    }

    [Fact]
    public void UnknownMagicIsCorrupt()
    {
        var blob = DataBlob.Encode(Compressible);
        blob[0] ^= 0xff;
        var e = Assert.Throws<FormatCorruptException>(() => DataBlob.Decode(blob));
        Assert.Contains("magic", e.Message);
        // An index file is not a blob either.
        var index = new byte[64];
        BlobMagic.FixedIndex.CopyTo(index);
        Assert.Throws<FormatCorruptException>(() => DataBlob.GetKind(index));
    }

    [Fact]
    public void BadZstdFrameIsCorrupt()
    {
        var garbage = HashBlocks("not zstd", 200);
        Assert.Throws<FormatCorruptException>(() => DataBlob.Decode(MakeBlob(BlobMagic.Compressed, garbage)));
        // A real frame with its tail cut off (CRC recomputed so only zstd can notice).
        var frame = DataBlob.Encode(Compressible).AsSpan(DataBlob.HeaderSize).ToArray();
        Assert.Throws<FormatCorruptException>(() => DataBlob.Decode(MakeBlob(BlobMagic.Compressed, frame[..^4])));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EncryptedBlobNeedsAKey(bool compressed)
    {
        var payload = HashBlocks("cipher", 100);
        var blob = new byte[DataBlob.EncryptedHeaderSize + payload.Length];
        (compressed ? BlobMagic.EncryptedCompressed : BlobMagic.Encrypted).CopyTo(blob);
        payload.CopyTo(blob, DataBlob.EncryptedHeaderSize);
        // The CRC of an encrypted blob covers only the ciphertext after IV and tag.
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(8), Crc32.HashToUInt32(payload));
        Assert.True(DataBlob.CrcMatches(blob));
        Assert.Equal(compressed ? BlobKind.EncryptedCompressed : BlobKind.Encrypted, DataBlob.GetKind(blob));
        Assert.Throws<EncryptedDataException>(() => DataBlob.Decode(blob));
        Assert.Throws<EncryptedDataException>(() => DataBlob.DecodeChunk(Digest.Compute(payload), blob));
    }

    [Fact]
    public void DecodeChunkChecksTheDigest()
    {
        var data = HashBlocks("chunk", 5000);
        var blob = DataBlob.Encode(data);
        Assert.Equal(data, DataBlob.DecodeChunk(Digest.Compute(data), blob));

        var wrong = Digest.Compute([1, 2, 3]);
        var e = Assert.Throws<ChunkCorruptException>(() => DataBlob.DecodeChunk(wrong, blob));
        Assert.Equal(wrong, e.Digest);
    }

    [Fact]
    public void DecodeChunkReportsBlobDamageAsChunkCorruption()
    {
        var data = HashBlocks("chunk", 5000);
        var blob = DataBlob.Encode(data);
        blob[20] ^= 1;
        var e = Assert.Throws<ChunkCorruptException>(() => DataBlob.DecodeChunk(Digest.Compute(data), blob));
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void ZeroChunkDigestIsTheKnownOne()
    {
        // formats.md §1.2: SHA-256 of 4 MiB of zeros, the chunk PBS's GC safety check uses.
        var zeros = new byte[4 * 1024 * 1024];
        Assert.Equal("bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8", Digest.Compute(zeros).ToHex());
        Assert.Equal(zeros, DataBlob.DecodeChunk(Digest.Compute(zeros), DataBlob.Encode(zeros)));
    }

    private static byte[] MakeBlob(ReadOnlySpan<byte> magic, byte[] payload)
    {
        var blob = new byte[DataBlob.HeaderSize + payload.Length];
        magic.CopyTo(blob);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(8), Crc32.HashToUInt32(payload));
        payload.CopyTo(blob, DataBlob.HeaderSize);
        return blob;
    }
}
