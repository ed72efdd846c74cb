using BackupFs.Datastore.Catalog;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Tests.Catalog;

/// <summary>The catalog's varints: PBS's round-trip values (catalog.rs tests) and bytes worked out by hand from the rule.</summary>
public class CatalogVarintTests
{
    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(1UL, "01")]
    [InlineData(127UL, "7f")]
    [InlineData(128UL, "8001")]           // 0 | 1<<7
    [InlineData(300UL, "ac02")]           // 300 = 0b10_0101100: 0x2c|0x80, 0x02
    [InlineData(ulong.MaxValue, "ffffffffffffffffff01")]
    public void U64Bytes(ulong value, string hex)
    {
        var buf = new byte[CatalogVarint.MaxU64Bytes];
        int n = CatalogVarint.WriteU64(buf, value);
        Assert.Equal(hex, Convert.ToHexStringLower(buf, 0, n));
        Assert.Equal(n, CatalogVarint.SizeU64(value));
        int pos = 0;
        Assert.Equal(value, CatalogVarint.ReadU64(buf.AsSpan(0, n), ref pos));
        Assert.Equal(n, pos);
    }

    [Theory]
    [InlineData(0L, "00")]
    [InlineData(126L, "7e")]
    [InlineData(-1L, "8100")]             // magnitude 1 with the high bit, then the 0x00 end marker
    [InlineData(-127L, "ff00")]
    [InlineData(-128L, "808100")]
    [InlineData(-129L, "818100")]
    [InlineData(1600000000L, "80a0f8fa05")]
    [InlineData(long.MaxValue, "ffffffffffffffff7f")]
    [InlineData(long.MinValue, "8080808080808080808100")]
    public void I64Bytes(long value, string hex)
    {
        var buf = new byte[CatalogVarint.MaxI64Bytes];
        int n = CatalogVarint.WriteI64(buf, value);
        Assert.Equal(hex, Convert.ToHexStringLower(buf, 0, n));
        int pos = 0;
        Assert.Equal(value, CatalogVarint.ReadI64(buf.AsSpan(0, n), ref pos));
        Assert.Equal(n, pos);
    }

    [Fact]
    public void RoundTripsPbsTestValues()
    {
        var buf = new byte[CatalogVarint.MaxI64Bytes];
        foreach (ulong v in new ulong[] { 0, 126, (1UL << 12) - 1, (1UL << 20) - 1, (1UL << 50) - 1, ulong.MaxValue })
        {
            int n = CatalogVarint.WriteU64(buf, v), pos = 0;
            Assert.Equal(v, CatalogVarint.ReadU64(buf.AsSpan(0, n), ref pos));
            pos = 0; // PBS's i64 decoder reads u64 encodings too (test_catalog_i64_compatibility)
            Assert.Equal(v, (ulong)CatalogVarint.ReadI64(buf.AsSpan(0, n), ref pos));
        }
        foreach (long v in new[] { 0L, 126, -126, (1L << 12) - 1, -(1L << 12) - 1, (1L << 20) - 1, -(1L << 20) - 1, long.MinValue, long.MaxValue })
        {
            int n = CatalogVarint.WriteI64(buf, v), pos = 0;
            Assert.Equal(v, CatalogVarint.ReadI64(buf.AsSpan(0, n), ref pos));
        }
    }

    [Theory]
    [InlineData("")]                       // nothing
    [InlineData("80")]                     // continues past the end
    [InlineData("ffffffffffffffffffff01")] // 11 bytes
    [InlineData("ffffffffffffffffff02")]   // 65 bits
    public void MalformedU64IsAFormatError(string hex)
    {
        var data = Convert.FromHexString(hex);
        Assert.Throws<FormatCorruptException>(() => { int pos = 0; CatalogVarint.ReadU64(data, ref pos); });
    }

    [Theory]
    [InlineData("")]
    [InlineData("81")]                       // negative without its end marker
    [InlineData("8080808080808080808101")]   // no 0x00 after 64 bits
    [InlineData("8080808080808080808200")]   // magnitude over 2^63
    public void MalformedI64IsAFormatError(string hex)
    {
        var data = Convert.FromHexString(hex);
        Assert.Throws<FormatCorruptException>(() => { int pos = 0; CatalogVarint.ReadI64(data, ref pos); });
    }
}
