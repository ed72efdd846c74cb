using System.Buffers;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Catalog;

/// <summary>
/// The catalog's variable-length integers ([PBS] pbs-datastore/src/catalog.rs, catalog_encode_u64/i64):
/// 7 bits per byte, least significant group first, high bit set = more bytes follow (at most 10
/// bytes for 64 bits). A negative i64 encodes its magnitude with the high bit set on every byte and
/// ends with a 0x00 byte (at most 11 bytes); a 0x00 first byte is 0.
/// </summary>
public static class CatalogVarint
{
    public const int MaxU64Bytes = 10;
    public const int MaxI64Bytes = 11;

    public static int SizeU64(ulong v)
    {
        int n = 1;
        while (v >= 128) { v >>= 7; n++; }
        return n;
    }

    public static int WriteU64(Span<byte> dest, ulong v)
    {
        int n = 0;
        while (v >= 128)
        {
            dest[n++] = (byte)(0x80 | (v & 0x7F));
            v >>= 7;
        }
        dest[n++] = (byte)v;
        return n;
    }

    public static void WriteU64(IBufferWriter<byte> writer, ulong v)
    {
        var span = writer.GetSpan(MaxU64Bytes);
        writer.Advance(WriteU64(span, v));
    }

    public static int WriteI64(Span<byte> dest, long v)
    {
        if (v >= 0) return WriteU64(dest, (ulong)v);
        // Magnitude as PBS computes it, (-(v + 1)) + 1, so long.MinValue does not overflow.
        ulong d = (ulong)(-(v + 1)) + 1;
        int n = 0;
        while (d >= 128)
        {
            dest[n++] = (byte)(0x80 | (d & 0x7F));
            d >>= 7;
        }
        dest[n++] = (byte)(0x80 | d);
        dest[n++] = 0;
        return n;
    }

    public static void WriteI64(IBufferWriter<byte> writer, long v)
    {
        var span = writer.GetSpan(MaxI64Bytes);
        writer.Advance(WriteI64(span, v));
    }

    /// <summary>Reads a u64 at <paramref name="pos"/> and advances it; malformed or truncated input is a format error.</summary>
    public static ulong ReadU64(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong v = 0;
        for (int i = 0; i < MaxU64Bytes; i++)
        {
            if (pos >= data.Length) throw new FormatCorruptException("catalog: integer runs past the end of its block");
            byte t = data[pos++];
            ulong bits = (ulong)(t & 0x7F);
            if (i == MaxU64Bytes - 1 && bits > 1) throw new FormatCorruptException("catalog: integer does not fit in 64 bits");
            v |= bits << (7 * i);
            if (t < 0x80) return v;
        }
        throw new FormatCorruptException("catalog: integer has no end marker within 10 bytes");
    }

    /// <summary>Reads an i64 at <paramref name="pos"/> and advances it; malformed or truncated input is a format error.</summary>
    public static long ReadI64(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong v = 0;
        for (int i = 0; i < MaxI64Bytes; i++)
        {
            if (pos >= data.Length) throw new FormatCorruptException("catalog: integer runs past the end of its block");
            byte t = data[pos++];
            if (t == 0)
            {
                if (v == 0) return 0;
                if (v > 1UL << 63) throw new FormatCorruptException("catalog: negative integer does not fit in 64 bits");
                return -(long)(v - 1) - 1;
            }
            ulong bits = (ulong)(t & 0x7F);
            if (i == MaxI64Bytes - 1 || (i == MaxU64Bytes - 1 && bits > 1))
                throw new FormatCorruptException("catalog: integer does not fit in 64 bits");
            v |= bits << (7 * i);
            if (t < 0x80) return (long)v; // same bits as the u64 encoding (PBS decodes u64 values > i64.MaxValue alike)
        }
        throw new FormatCorruptException("catalog: integer has no end marker within 11 bytes");
    }
}
