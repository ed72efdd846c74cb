using System.Buffers.Binary;
using BackupFs.Datastore.Catalog;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.Pxar;

namespace BackupFs.Datastore.Tests.Catalog;

/// <summary>Malformed catalogs: every failure is a FormatCorruptException, and nothing loops or recurses.</summary>
public class CatalogCorruptionTests
{
    private static byte[] Sample()
    {
        var output = new MemoryStream();
        var w = new CatalogWriter(output);
        w.StartDirectory("root.pxar.didx"u8);
        w.StartDirectory("etc"u8);
        w.AddFile("hosts"u8, 120, 1_600_000_000);
        w.StartDirectory("ssh"u8);
        w.AddFile("sshd_config"u8, 3000, -86_400);
        w.EndDirectory();
        w.AddSymlink("mtab"u8);
        w.EndDirectory();
        w.AddFifo("fifo"u8);
        w.EndDirectory();
        w.Finish();
        return output.ToArray();
    }

    /// <summary>Reads every directory reachable from the root, with an explicit stack and a visit cap.</summary>
    private static async Task<int> WalkAllAsync(byte[] catalog)
    {
        var reader = await CatalogReader.OpenAsync(new MemorySource(catalog));
        var stack = new Stack<CatalogEntry>([reader.Root]);
        int seen = 0;
        while (stack.Count > 0)
        {
            foreach (var e in await reader.ReadDirectoryAsync(stack.Pop()))
            {
                Assert.True(++seen < 10_000, "walk did not end");
                if (e.IsDirectory) stack.Push(e);
            }
        }
        return seen;
    }

    private static Task Bounded(Func<Task> body) => Task.Run(body).WaitAsync(TimeSpan.FromSeconds(60));

    [Fact]
    public async Task TheSampleIsValid() => Assert.Equal(7, await WalkAllAsync(Sample()));

    [Fact]
    public Task EveryTruncationIsAFormatError() => Bounded(async () =>
    {
        var full = Sample();
        for (int n = 0; n < full.Length; n++)
            await Assert.ThrowsAsync<FormatCorruptException>(() => WalkAllAsync(full[..n]));
    });

    [Fact]
    public Task EveryByteCorruptionEndsInAListingOrAFormatError() => Bounded(async () =>
    {
        var full = Sample();
        foreach (byte value in new byte[] { 0x00, 0x01, 0x7f, 0x80, 0xff })
            for (int i = 0; i < full.Length; i++)
            {
                var bad = (byte[])full.Clone();
                bad[i] = value;
                try { await WalkAllAsync(bad); }
                catch (FormatCorruptException) { }
            }
    });

    [Fact]
    public async Task WrongMagicOrTailPointerIsAFormatError()
    {
        var bad = Sample();
        bad[0] ^= 1;
        await Assert.ThrowsAsync<FormatCorruptException>(() => CatalogReader.OpenAsync(new MemorySource(bad)).AsTask());
        foreach (ulong tail in new ulong[] { 0, 7, (ulong)Sample().Length - 8, (ulong)Sample().Length, ulong.MaxValue, 1UL << 63 })
        {
            bad = Sample();
            BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan(bad.Length - 8), tail);
            await Assert.ThrowsAsync<FormatCorruptException>(() => CatalogReader.OpenAsync(new MemorySource(bad)).AsTask());
        }
    }

    /// <summary>magic | table A at 8 | root table at R | tail R. Table A lists one directory whose distance is chosen by the test.</summary>
    private static byte[] WithDirectoryDistance(ulong distance, ulong? tableLength = null, ulong? count = null)
    {
        var b = new List<byte>(BlobMagic.Catalog.ToArray());
        // root table at 8: 1 entry 'd' "x" with the given distance back from 8
        var table = new List<byte> { (byte)(count ?? 1), (byte)'d', 1, (byte)'x' };
        var v = new byte[10];
        table.AddRange(v[..CatalogVarint.WriteU64(v, distance)]);
        b.AddRange(v[..CatalogVarint.WriteU64(v, tableLength ?? (ulong)table.Count)]);
        b.AddRange(table);
        var tail = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(tail, 8);
        b.AddRange(tail);
        return b.ToArray();
    }

    [Theory]
    [InlineData(0UL)]          // the directory is its own table: a self loop
    [InlineData(1UL)]          // into the magic
    [InlineData(8UL)]          // offset 0
    [InlineData(9UL)]          // before the file
    [InlineData(ulong.MaxValue)]
    public async Task DirectoryOffsetsOutsideTheCatalogOrLoopingAreFormatErrors(ulong distance)
    {
        var reader = await CatalogReader.OpenAsync(new MemorySource(WithDirectoryDistance(distance)));
        await Assert.ThrowsAsync<FormatCorruptException>(() => reader.ReadDirectoryAsync(reader.Root).AsTask());
    }

    [Fact]
    public async Task AChildTableOverlappingItsParentIsAFormatError()
    {
        // Valid writer output, then the distance of "etc" shortened by one: its table would start one byte
        // later and reach into the archive directory's table.
        var output = new MemoryStream();
        var w = new CatalogWriter(output);
        w.StartDirectory("r"u8);
        w.StartDirectory("etc"u8);
        w.AddFile("f"u8, 1, 1);
        w.EndDirectory();
        w.EndDirectory();
        w.Finish();
        var good = output.ToArray();
        var reader = await CatalogReader.OpenAsync(new MemorySource(good));
        var r = Assert.Single(await reader.ReadDirectoryAsync(reader.Root));
        var etc = Assert.Single(await reader.ReadDirectoryAsync(r));
        Assert.Equal(8, etc.TableOffset);
        // r's table: len, count, 'd', 3, "etc", distance → the distance is the last byte of r's table
        int distanceAt = (int)r.TableOffset + 1 + 1 + 1 + 1 + 3;
        var bad = (byte[])good.Clone();
        bad[distanceAt] = 1; // etc's table would start one byte before r's table and run into it
        reader = await CatalogReader.OpenAsync(new MemorySource(bad));
        r = Assert.Single(await reader.ReadDirectoryAsync(reader.Root));
        etc = Assert.Single(await reader.ReadDirectoryAsync(r));
        await Assert.ThrowsAsync<FormatCorruptException>(() => reader.ReadDirectoryAsync(etc).AsTask());
    }

    [Fact]
    public async Task OversizedTablesAndEntryCountsAreFormatErrors()
    {
        // a table length beyond the file
        var reader = await CatalogReader.OpenAsync(new MemorySource(WithDirectoryDistance(1, tableLength: 1000)));
        await Assert.ThrowsAsync<FormatCorruptException>(() => reader.ReadDirectoryAsync(reader.Root).AsTask());
        // more entries than the table has bytes for
        reader = await CatalogReader.OpenAsync(new MemorySource(WithDirectoryDistance(1, count: 100)));
        await Assert.ThrowsAsync<FormatCorruptException>(() => reader.ReadDirectoryAsync(reader.Root).AsTask());
        // caps below what a valid catalog needs
        reader = await CatalogReader.OpenAsync(new MemorySource(Sample()), maxTableBytes: 4);
        await Assert.ThrowsAsync<FormatCorruptException>(() => reader.ReadDirectoryAsync(reader.Root).AsTask());
        reader = await CatalogReader.OpenAsync(new MemorySource(Sample()), maxEntries: 2);
        var top = Assert.Single(await reader.ReadDirectoryAsync(reader.Root));
        var etc = (await reader.ReadDirectoryAsync(top))[0]; // 2 entries: within the cap
        await Assert.ThrowsAsync<FormatCorruptException>(() => reader.ReadDirectoryAsync(etc).AsTask()); // 3 entries
    }

    [Theory]
    [InlineData("2e")]     // "."
    [InlineData("2e2e")]   // ".."
    [InlineData("612f62")] // "a/b"
    [InlineData("6100")]   // NUL
    public async Task NamesThatAreNotFileNamesAreFormatErrors(string nameHex)
    {
        var name = Convert.FromHexString(nameHex);
        var b = new List<byte>(BlobMagic.Catalog.ToArray());
        var table = new List<byte> { 1, (byte)'s', (byte)name.Length };
        table.AddRange(name);
        b.Add((byte)table.Count);
        b.AddRange(table);
        b.AddRange(new byte[] { 8, 0, 0, 0, 0, 0, 0, 0 });
        var reader = await CatalogReader.OpenAsync(new MemorySource(b.ToArray()));
        await Assert.ThrowsAsync<FormatCorruptException>(() => reader.ReadDirectoryAsync(reader.Root).AsTask());
    }
}
