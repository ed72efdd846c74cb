using System.Buffers.Binary;
using System.Security.Cryptography;

namespace BackupFs.Datastore.Formats;

/// <summary>
/// The fields both index kinds share at the start of their 4096-byte header:
/// magic(8) uuid(16) ctime(i64 LE) index_csum(32). The rest differs per kind or is reserved (zero).
/// </summary>
internal static class IndexHeader
{
    public const int Size = 4096;
    public const int UuidOffset = 8;
    public const int CTimeOffset = 24;
    public const int ChecksumOffset = 32;
    public const int ChecksumSize = 32;

    /// <summary>Checks the minimum length and the magic; <paramref name="kind"/> names the file kind in messages.</summary>
    public static void CheckMagic(ReadOnlySpan<byte> file, ReadOnlySpan<byte> magic, string kind)
    {
        if (file.Length < Size)
            throw new FormatCorruptException($"{kind} too short: {file.Length} bytes, the header alone has {Size}");
        if (!file[..8].SequenceEqual(magic))
            throw new FormatCorruptException($"not a {kind} (magic {Convert.ToHexStringLower(file[..8])}, expected {Convert.ToHexStringLower(magic)})");
    }

    /// <summary>Checks that the stored index_csum equals SHA-256 of everything after the header.</summary>
    public static void CheckChecksum(ReadOnlySpan<byte> file, string kind)
    {
        Span<byte> actual = stackalloc byte[ChecksumSize];
        SHA256.HashData(file[Size..], actual);
        var stored = file.Slice(ChecksumOffset, ChecksumSize);
        if (!stored.SequenceEqual(actual))
            throw new FormatCorruptException(
                $"{kind} checksum mismatch: header says {Convert.ToHexStringLower(stored)}, entries hash to {Convert.ToHexStringLower(actual)}");
    }

    public static byte[] ReadUuid(ReadOnlySpan<byte> file) => file.Slice(UuidOffset, 16).ToArray();

    public static long ReadCTime(ReadOnlySpan<byte> file) => BinaryPrimitives.ReadInt64LittleEndian(file[CTimeOffset..]);

    /// <summary>Writes magic, uuid (random v4 when null), ctime (now when null) and the checksum of the body.</summary>
    public static void Write(Span<byte> file, ReadOnlySpan<byte> magic, byte[]? uuid, long? ctime)
    {
        if (uuid != null && uuid.Length != 16)
            throw new ArgumentException($"an index uuid has 16 bytes (got {uuid.Length})", nameof(uuid));
        magic.CopyTo(file);
        if (uuid != null) uuid.CopyTo(file[UuidOffset..]);
        else NewUuid(file.Slice(UuidOffset, 16));
        BinaryPrimitives.WriteInt64LittleEndian(file[CTimeOffset..], ctime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        SHA256.HashData(file[Size..], file.Slice(ChecksumOffset, ChecksumSize));
    }

    /// <summary>A random RFC 4122 version-4 UUID in network byte order, as libuuid makes it.</summary>
    private static void NewUuid(Span<byte> uuid)
    {
        RandomNumberGenerator.Fill(uuid);
        uuid[6] = (byte)((uuid[6] & 0x0f) | 0x40); // version 4
        uuid[8] = (byte)((uuid[8] & 0x3f) | 0x80); // RFC 4122 variant
    }
}
