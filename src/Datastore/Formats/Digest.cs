using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace BackupFs.Datastore.Formats;

/// <summary>A 32-byte SHA-256 chunk digest. Stored as four ulongs so it is a cheap dictionary key.</summary>
public readonly struct Digest : IEquatable<Digest>, IComparable<Digest>
{
    public const int Size = 32;
    private readonly ulong _a, _b, _c, _d; // big-endian words: ordering equals byte order

    private Digest(ulong a, ulong b, ulong c, ulong d) { _a = a; _b = b; _c = c; _d = d; }

    public static Digest FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Size) throw new ArgumentException("a digest has 32 bytes", nameof(bytes));
        return new Digest(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
    }

    /// <summary>SHA-256 of the plain (unencrypted, uncompressed) chunk data.</summary>
    public static Digest Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> h = stackalloc byte[Size];
        SHA256.HashData(data, h);
        return FromBytes(h);
    }

    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    public byte[] ToArray() { var b = new byte[Size]; CopyTo(b); return b; }

    /// <summary>64 lower-case hex digits, the chunk file name.</summary>
    public string ToHex()
    {
        Span<byte> b = stackalloc byte[Size];
        CopyTo(b);
        return Convert.ToHexStringLower(b);
    }

    /// <summary>The chunk's prefix directory: the first 4 hex digits.</summary>
    public string Prefix => ((ushort)(_a >> 48)).ToString("x4");

    public static bool TryParse(ReadOnlySpan<char> hex, out Digest digest)
    {
        digest = default;
        if (hex.Length != 2 * Size) return false;
        foreach (var ch in hex)
            if (!char.IsAsciiHexDigitLower(ch) && !char.IsAsciiDigit(ch)) return false;
        Span<byte> b = stackalloc byte[Size];
        if (Convert.FromHexString(hex, b, out _, out _) != System.Buffers.OperationStatus.Done) return false;
        digest = FromBytes(b);
        return true;
    }

    public static Digest Parse(string hex) =>
        TryParse(hex, out var d) ? d : throw new FormatException($"not a 64-digit lower-case hex digest: '{hex}'");

    public bool Equals(Digest other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;
    public override bool Equals(object? obj) => obj is Digest d && Equals(d);
    public override int GetHashCode() => (int)(_a ^ (_a >> 32)); // SHA-256 bits are uniform already
    public int CompareTo(Digest other)
    {
        int c = _a.CompareTo(other._a); if (c != 0) return c;
        c = _b.CompareTo(other._b); if (c != 0) return c;
        c = _c.CompareTo(other._c); if (c != 0) return c;
        return _d.CompareTo(other._d);
    }
    public static bool operator ==(Digest x, Digest y) => x.Equals(y);
    public static bool operator !=(Digest x, Digest y) => !x.Equals(y);
    public override string ToString() => ToHex();
}
