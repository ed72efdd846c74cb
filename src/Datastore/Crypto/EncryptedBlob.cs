using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// Encrypted DataBlobs (chunks and *.blob of `encrypt` snapshots): magic(8) crc32(4) iv(16)
/// tag(16) ciphertext. The CRC-32 covers the ciphertext only; AES-256-GCM runs over the plain
/// data, or over its zstd level-1 frame when that is smaller (magic e6591bbf0bbfd80b).
/// Decoding checks CRC, then the tag, and only then decompresses (pbs-datastore data_blob.rs).
/// </summary>
public static class EncryptedBlob
{
    public const int HeaderSize = DataBlob.EncryptedHeaderSize;

    /// <exception cref="FormatCorruptException">not a DataBlob</exception>
    public static bool IsEncrypted(ReadOnlySpan<byte> blob) =>
        DataBlob.GetKind(blob) is BlobKind.Encrypted or BlobKind.EncryptedCompressed;

    /// <summary>Encrypts into a new array (config/log blobs).</summary>
    public static byte[] Encode(CryptKey key, ReadOnlySpan<byte> data, bool compress = true)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(HeaderSize + data.Length);
        int n = EncodeTo(key, data, compress, buffer);
        return n == buffer.Length ? buffer : buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>
    /// Encrypts into <paramref name="destination"/> (at least 44 + data.Length bytes) with a fresh
    /// random IV; returns the blob's length.
    /// </summary>
    public static int EncodeTo(CryptKey key, ReadOnlySpan<byte> data, bool compress, Span<byte> destination)
    {
        if (data.Length > DataBlob.MaxBlobSize) throw new BackupFsException($"blob of {data.Length} bytes exceeds the {DataBlob.MaxBlobSize}-byte limit");
        if (destination.Length < HeaderSize + data.Length) throw new ArgumentException("destination too small", nameof(destination));
        Span<byte> iv = destination.Slice(12, AesGcmCipher.IvSize);
        RandomNumberGenerator.Fill(iv);
        var tag = destination.Slice(28, AesGcmCipher.TagSize);
        var body = destination[HeaderSize..];
        int length = data.Length;
        bool compressed = false;
        if (compress && data.Length > 0)
        {
            // Compress into the body area (room for the input's size only, PBS's rule), then encrypt in place.
            if (DataBlob.TryCompress(data, body[..data.Length], out int written))
            {
                compressed = true;
                length = written;
            }
        }
        if (compressed) AesGcmCipher.Encrypt(key.EncryptionKey, iv, body[..length], body[..length], tag);
        else AesGcmCipher.Encrypt(key.EncryptionKey, iv, data, body[..length], tag);
        (compressed ? BlobMagic.EncryptedCompressed : BlobMagic.Encrypted).CopyTo(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Crc32.HashToUInt32(body[..length]));
        return HeaderSize + length;
    }

    /// <summary>Decodes an encrypted blob to its plain data.</summary>
    /// <exception cref="FormatCorruptException">not an encrypted blob, too short, CRC mismatch, bad zstd frame</exception>
    /// <exception cref="CryptoException">wrong key or tampered IV/tag/ciphertext</exception>
    public static byte[] Decode(CryptKey key, ReadOnlySpan<byte> blob)
    {
        bool compressed = CheckHeader(blob);
        var cipherText = blob[HeaderSize..];
        if (!compressed)
        {
            var plain = GC.AllocateUninitializedArray<byte>(cipherText.Length);
            Decrypt(key, blob, plain);
            return plain;
        }
        var frame = ArrayPool<byte>.Shared.Rent(Math.Max(cipherText.Length, 1));
        try
        {
            Decrypt(key, blob, frame);
            return DataBlob.Decompress(frame.AsSpan(0, cipherText.Length));
        }
        finally { ArrayPool<byte>.Shared.Return(frame); }
    }

    /// <summary>Checks magic, size and CRC; returns whether the payload is a zstd frame.</summary>
    /// <exception cref="FormatCorruptException">not an encrypted blob, too short, CRC mismatch</exception>
    public static bool CheckHeader(ReadOnlySpan<byte> blob)
    {
        var kind = DataBlob.GetKind(blob);
        if (kind is not (BlobKind.Encrypted or BlobKind.EncryptedCompressed)) throw new FormatCorruptException("blob is not encrypted");
        if (blob.Length < HeaderSize) throw new FormatCorruptException($"encrypted blob too short ({blob.Length} bytes, at least {HeaderSize} expected)");
        if (!DataBlob.CrcMatches(blob)) throw new FormatCorruptException("blob CRC-32 mismatch");
        return kind == BlobKind.EncryptedCompressed;
    }

    /// <summary>GCM-decrypts the payload (ciphertext length bytes) into <paramref name="destination"/>; no CRC check.</summary>
    /// <exception cref="CryptoException">wrong key or tampered data</exception>
    public static void Decrypt(CryptKey key, ReadOnlySpan<byte> blob, Span<byte> destination) =>
        AesGcmCipher.Decrypt(key.EncryptionKey, blob.Slice(12, AesGcmCipher.IvSize), blob.Slice(28, AesGcmCipher.TagSize), blob[HeaderSize..], destination);
}
