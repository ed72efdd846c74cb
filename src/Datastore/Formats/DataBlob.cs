using System.Buffers.Binary;
using System.IO.Hashing;
using BackupFs.Datastore.Formats.Zstd;
using ZstdSharp;

namespace BackupFs.Datastore.Formats;

public enum BlobKind { Uncompressed, Compressed, Encrypted, EncryptedCompressed }

/// <summary>
/// PBS DataBlob: every chunk file and every *.blob. Layout: magic(8) crc32(4) [iv(16) tag(16)] payload.
/// The CRC-32 (IEEE) covers the payload only; compression is zstd level 1, kept only when it is
/// not larger than the input (as PBS ≥ 3.2.9 does).
/// </summary>
public static class DataBlob
{
    public const int HeaderSize = 12;
    public const int EncryptedHeaderSize = 44;
    /// <summary>PBS refuses to encode blobs larger than this.</summary>
    public const int MaxBlobSize = 128 * 1024 * 1024;

    /// <summary>Encodes plain data as an unencrypted blob, zstd-compressed when that is not larger.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> data, bool compress = true)
    {
        if (data.Length > MaxBlobSize) throw new BackupFsException($"blob of {data.Length} bytes exceeds the {MaxBlobSize}-byte limit");
        if (compress && data.Length > 0)
        {
            var output = GC.AllocateUninitializedArray<byte>(HeaderSize + data.Length);
            // One-shot into a buffer of the input's size: if the frame does not fit, keep it plain.
            if (ZstdEngine.Default.TryCompress(data, output.AsSpan(HeaderSize), out int written))
            {
                BlobMagic.Compressed.CopyTo(output);
                BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(8), Crc32.HashToUInt32(output.AsSpan(HeaderSize, written)));
                return written + HeaderSize == output.Length ? output : output.AsSpan(0, HeaderSize + written).ToArray();
            }
        }
        var plain = GC.AllocateUninitializedArray<byte>(HeaderSize + data.Length);
        BlobMagic.Uncompressed.CopyTo(plain);
        data.CopyTo(plain.AsSpan(HeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(plain.AsSpan(8), Crc32.HashToUInt32(data));
        return plain;
    }

    /// <summary>
    /// Encodes like <see cref="Encode"/> into <paramref name="destination"/>, which must hold at
    /// least <see cref="HeaderSize"/> + data.Length bytes (a pooled buffer); returns the blob's length.
    /// </summary>
    public static int EncodeTo(ReadOnlySpan<byte> data, bool compress, Span<byte> destination)
    {
        if (data.Length > MaxBlobSize) throw new BackupFsException($"blob of {data.Length} bytes exceeds the {MaxBlobSize}-byte limit");
        if (destination.Length < HeaderSize + data.Length) throw new ArgumentException("destination too small", nameof(destination));
        if (compress && data.Length > 0)
        {
            // Room for the input's size only: a frame that does not fit is not kept (PBS's rule).
            if (ZstdEngine.Default.TryCompress(data, destination.Slice(HeaderSize, data.Length), out int written))
            {
                BlobMagic.Compressed.CopyTo(destination);
                BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Crc32.HashToUInt32(destination.Slice(HeaderSize, written)));
                return HeaderSize + written;
            }
        }
        BlobMagic.Uncompressed.CopyTo(destination);
        data.CopyTo(destination[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Crc32.HashToUInt32(data));
        return HeaderSize + data.Length;
    }

    /// <exception cref="FormatCorruptException">too short or unknown magic</exception>
    public static BlobKind GetKind(ReadOnlySpan<byte> blob)
    {
        if (blob.Length < HeaderSize) throw new FormatCorruptException($"blob too short ({blob.Length} bytes, at least {HeaderSize} expected)");
        var magic = blob[..8];
        if (magic.SequenceEqual(BlobMagic.Uncompressed)) return BlobKind.Uncompressed;
        if (magic.SequenceEqual(BlobMagic.Compressed)) return BlobKind.Compressed;
        if (magic.SequenceEqual(BlobMagic.Encrypted)) return BlobKind.Encrypted;
        if (magic.SequenceEqual(BlobMagic.EncryptedCompressed)) return BlobKind.EncryptedCompressed;
        throw new FormatCorruptException($"not a DataBlob (unknown magic {Convert.ToHexStringLower(magic)})");
    }

    /// <summary>True when the stored CRC-32 matches the payload.</summary>
    public static bool CrcMatches(ReadOnlySpan<byte> blob)
    {
        var kind = GetKind(blob);
        int header = kind is BlobKind.Encrypted or BlobKind.EncryptedCompressed ? EncryptedHeaderSize : HeaderSize;
        if (blob.Length < header) return false;
        return BinaryPrimitives.ReadUInt32LittleEndian(blob[8..]) == Crc32.HashToUInt32(blob[header..]);
    }

    /// <summary>Decodes an unencrypted blob to its plain data, checking the CRC.</summary>
    /// <exception cref="FormatCorruptException">bad magic, CRC or zstd frame</exception>
    /// <exception cref="EncryptedDataException">the blob is encrypted</exception>
    public static byte[] Decode(ReadOnlySpan<byte> blob)
    {
        var kind = GetKind(blob);
        if (kind is BlobKind.Encrypted or BlobKind.EncryptedCompressed)
            throw new EncryptedDataException("the blob is encrypted; BackupFs cannot decrypt it without the key");
        if (!CrcMatches(blob)) throw new FormatCorruptException("blob CRC-32 mismatch");
        var payload = blob[HeaderSize..];
        return kind == BlobKind.Uncompressed ? payload.ToArray() : Decompress(payload);
    }

    /// <summary>Decodes a chunk blob and checks that the plain data hashes to <paramref name="digest"/>.</summary>
    /// <exception cref="ChunkCorruptException">CRC, zstd or digest mismatch</exception>
    public static byte[] DecodeChunk(Digest digest, ReadOnlySpan<byte> blob)
    {
        byte[] data;
        try { data = Decode(blob); }
        catch (EncryptedDataException) { throw; }
        catch (FormatCorruptException e) { throw new ChunkCorruptException(digest, e.Message, e); }
        if (Digest.Compute(data) != digest) throw new ChunkCorruptException(digest, "content does not match its digest");
        return data;
    }

    /// <summary>
    /// The decoded size of an unencrypted blob when it is known up front (uncompressed, or a zstd
    /// frame that records its content size, as PBS ≥ 3.2.9 writes), else -1.
    /// </summary>
    /// <exception cref="FormatCorruptException">bad magic</exception>
    /// <exception cref="EncryptedDataException">the blob is encrypted</exception>
    public static int DecodedSizeHint(ReadOnlySpan<byte> blob)
    {
        var kind = GetKind(blob);
        if (kind is BlobKind.Encrypted or BlobKind.EncryptedCompressed)
            throw new EncryptedDataException("the blob is encrypted; BackupFs cannot decrypt it without the key");
        if (kind == BlobKind.Uncompressed) return blob.Length - HeaderSize;
        return FrameContentSize(blob[HeaderSize..]);
    }

    /// <summary>Decodes an unencrypted blob into <paramref name="destination"/> (sized by <see cref="DecodedSizeHint"/>), checking the CRC.</summary>
    public static int DecodeInto(ReadOnlySpan<byte> blob, Span<byte> destination)
    {
        var kind = GetKind(blob);
        if (kind is BlobKind.Encrypted or BlobKind.EncryptedCompressed)
            throw new EncryptedDataException("the blob is encrypted; BackupFs cannot decrypt it without the key");
        if (!CrcMatches(blob)) throw new FormatCorruptException("blob CRC-32 mismatch");
        var payload = blob[HeaderSize..];
        if (kind == BlobKind.Uncompressed)
        {
            if (payload.Length > destination.Length) throw new FormatCorruptException("blob larger than expected");
            payload.CopyTo(destination);
            return payload.Length;
        }
        return ZstdEngine.Default.DecompressInto(payload, destination);
    }

    /// <summary>zstd frame header: magic, then the descriptor whose top two bits give the content-size field's size
    /// (0 means absent unless the frame is single-segment).</summary>
    private static bool FrameHasContentSize(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 5 || BinaryPrimitives.ReadUInt32LittleEndian(frame) != 0xFD2FB528) return false;
        byte descriptor = frame[4];
        bool singleSegment = (descriptor & 0x20) != 0;
        return (descriptor >> 6) != 0 || singleSegment;
    }

    /// <summary>zstd level 1 into <paramref name="destination"/>; false when the frame does not fit (then the data stays plain).</summary>
    internal static bool TryCompress(ReadOnlySpan<byte> data, Span<byte> destination, out int written) =>
        ZstdEngine.Default.TryCompress(data, destination, out written);

    /// <summary>The content size a zstd frame records, or -1 (old streaming frames do not record it).</summary>
    internal static int FrameContentSize(ReadOnlySpan<byte> frame)
    {
        // The frame header's content-size field; the decompressed-size API returns a bound otherwise.
        try
        {
            ulong size = Decompressor.GetDecompressedSize(frame);
            return size > 0 && size <= MaxBlobSize && FrameHasContentSize(frame) ? (int)size : -1;
        }
        catch (Exception e) when (e is ZstdException or ArgumentException) { return -1; }
    }

    /// <summary>Decompresses a frame whose content size is known into <paramref name="destination"/>.</summary>
    internal static int DecompressInto(ReadOnlySpan<byte> frame, Span<byte> destination) =>
        ZstdEngine.Default.DecompressInto(frame, destination);

    internal static byte[] Decompress(ReadOnlySpan<byte> frame)
    {
        try
        {
            // An upper bound of the decoded size: exact for PBS ≥ 3.2.9 frames, which carry their
            // content size; for older streaming frames (no content size) it is the block-count
            // bound, so the output is trimmed to what was really decoded.
            ulong bound = Decompressor.GetDecompressedSize(frame);
            if (bound > 0 && bound <= MaxBlobSize)
            {
                var output = GC.AllocateUninitializedArray<byte>((int)bound);
                int n = ZstdEngine.Default.DecompressInto(frame, output);
                return n == output.Length ? output : output.AsSpan(0, n).ToArray();
            }
            using var input = new MemoryStream(frame.ToArray(), writable: false);
            using var stream = new DecompressionStream(input);
            using var result = new MemoryStream();
            var buffer = new byte[81920];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                result.Write(buffer, 0, read);
                if (result.Length > MaxBlobSize) throw new FormatCorruptException("zstd frame expands beyond the blob size limit");
            }
            return result.ToArray();
        }
        catch (FormatCorruptException) { throw; }
        catch (Exception e) when (e is ZstdException or InvalidOperationException or IOException or ArgumentException)
        {
            throw new FormatCorruptException($"bad zstd frame: {e.Message}", e);
        }
    }
}
