using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Catalog;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.Pxar;

namespace BackupFs.Datastore.Tests.Catalog;

/// <summary>
/// The catalog's bytes for a small tree, laid out by hand from the documented format (docs/formats.md,
/// "File catalog"): magic; tables written when their directory closes (children first), each
/// varint(length) + varint(count) + entries; a directory entry holds the backward distance from its
/// parent's table to its own; the root table lists the archive; u64 LE offset of the root table last.
/// </summary>
public class CatalogFormatTests
{
    // Tree: archive "r.pxar.didx" with a/ { x (file, 5 bytes, mtime 1600000000), y (hardlink) },
    // b (block device), c (char device), l (symlink), n (file, 200 bytes, mtime -1), p (fifo), s (socket).
    private static readonly byte[] Expected = Convert.FromHexString(string.Concat(
        "91fd60f9c46758d5",                              // 0: magic = SHA-256("Proxmox Backup Catalog file v1.0")[0..8]
        // 8: table of a/ (written first, when a/ closes): length 13, 2 entries
        "0d", "02",
        "66", "01", "78", "05", "80a0f8fa05",           //   'f' len 1 "x" size 5 mtime 1600000000
        "68", "01", "79",                               //   'h' len 1 "y"
        // 22: table of the archive directory: length 27, 7 entries
        "1b", "07",
        "64", "01", "61", "0e",                         //   'd' "a", distance 22 - 8 = 14
        "62", "01", "62",                               //   'b' "b"
        "63", "01", "63",                               //   'c' "c"
        "6c", "01", "6c",                               //   'l' "l"
        "66", "01", "6e", "c801", "8100",               //   'f' "n" size 200 mtime -1
        "70", "01", "70",                               //   'p' "p"
        "73", "01", "73",                               //   's' "s"
        // 50: root table: length 15, 1 entry
        "0f", "01",
        "64", "0b", Convert.ToHexStringLower("r.pxar.didx"u8), "1c", // 'd' "r.pxar.didx", distance 50 - 22 = 28
        "3200000000000000"));                           // 66: u64 LE 50, the root table's offset

    [Fact]
    public void WriterProducesTheDocumentedBytes()
    {
        var output = new MemoryStream();
        var w = new CatalogWriter(output);
        w.StartDirectory("r.pxar.didx"u8);
        w.StartDirectory("a"u8);
        w.AddFile("x"u8, 5, 1600000000);
        w.AddHardlink("y"u8);
        w.EndDirectory();
        w.AddBlockDevice("b"u8);
        w.AddCharDevice("c"u8);
        w.AddSymlink("l"u8);
        w.AddFile("n"u8, 200, -1);
        w.AddFifo("p"u8);
        w.AddSocket("s"u8);
        w.EndDirectory();
        w.Finish();
        Assert.Equal(74, Expected.Length);
        Assert.Equal(Convert.ToHexStringLower(Expected), Convert.ToHexStringLower(output.ToArray()));
        Assert.Equal(74, w.Position);
    }

    [Fact]
    public async Task ReaderListsTheDocumentedBytes()
    {
        var reader = await CatalogReader.OpenAsync(new MemorySource(Expected));
        var top = Assert.Single(await reader.ReadDirectoryAsync(reader.Root));
        Assert.Equal("r.pxar.didx", top.NameText);
        Assert.Equal(22, top.TableOffset);
        var entries = await reader.ListDirectoryAsync("/r.pxar.didx");
        Assert.Equal("d:a b:b c:c l:l f:n:200:-1 p:p s:s", string.Join(" ", entries.Select(Describe)));
        Assert.Equal("f:x:5:1600000000 h:y", string.Join(" ", (await reader.ListDirectoryAsync("r.pxar.didx/a")).Select(Describe)));
        var x = await reader.LookupPathAsync("r.pxar.didx/a/x");
        Assert.Equal((CatalogEntryKind.File, 5UL, 1600000000L), (x!.Kind, x.Size, x.MtimeSeconds));
        Assert.Null(await reader.LookupPathAsync("r.pxar.didx/a/zz"));
        Assert.Null(await reader.LookupPathAsync("r.pxar.didx/n/below-a-file"));
    }

    [Fact]
    public async Task PxarEncoderFeedsTheCatalogInArchiveOrder()
    {
        var catalogBytes = new MemoryStream();
        var catalog = new CatalogWriter(catalogBytes);
        catalog.StartDirectory("r.pxar.didx"u8);
        var archive = new MemoryStream();
        var dir = new PxarStat(FileTypeBits.Directory | 0x1ED, 0, 0, 0, 1_700_000_000, 0);
        using (var e = await PxarEncoder.CreateAsync(archive, dir, null, new PxarEncoderOptions { Catalog = catalog }))
        {
            await e.BeginDirectoryAsync("a"u8.ToArray(), dir);
            long x = await e.AddFileAsync("x"u8.ToArray(), new PxarStat(FileTypeBits.Regular | 0x1A4, 0, 0, 0, 1600000000, 999_999_999), null, new MemoryStream("hello"u8.ToArray()), 5);
            await e.AddHardlinkAsync("y"u8.ToArray(), "a/x"u8.ToArray(), x);
            await e.EndDirectoryAsync();
            await e.AddDeviceAsync("b"u8.ToArray(), new PxarStat(FileTypeBits.BlockDevice | 0x1A4, 0, 0, 0, 0, 0), null, 8, 0);
            await e.AddDeviceAsync("c"u8.ToArray(), new PxarStat(FileTypeBits.CharDevice | 0x1A4, 0, 0, 0, 0, 0), null, 1, 3);
            await e.AddSymlinkAsync("l"u8.ToArray(), new PxarStat(FileTypeBits.Symlink | 0x1FF, 0, 0, 0, 0, 0), null, "a/x"u8.ToArray());
            // -0.5 s: floor seconds -1 with 500000000 ns, the catalog keeps st_mtime (-1)
            await e.AddFileAsync("n"u8.ToArray(), new PxarStat(FileTypeBits.Regular | 0x1A4, 0, 0, 0, -1, 500_000_000), null, new MemoryStream(new byte[200]), 200);
            await e.AddSpecialAsync("p"u8.ToArray(), new PxarStat(FileTypeBits.Fifo | 0x1A4, 0, 0, 0, 0, 0), null);
            await e.AddSpecialAsync("s"u8.ToArray(), new PxarStat(FileTypeBits.Socket | 0x1A4, 0, 0, 0, 0, 0), null);
            await e.FinishAsync();
        }
        catalog.EndDirectory();
        catalog.Finish();
        Assert.Equal(Convert.ToHexStringLower(Expected), Convert.ToHexStringLower(catalogBytes.ToArray()));
    }

    [Fact]
    public void WriterRefusesBadNamesAndUnbalancedDirectories()
    {
        var w = new CatalogWriter(new MemoryStream());
        Assert.Throws<ArgumentException>(() => w.AddFile("a/b"u8, 1, 1));
        Assert.Throws<ArgumentException>(() => w.AddSymlink(""u8));
        Assert.Throws<ArgumentException>(() => w.AddFifo(new byte[4096]));
        Assert.Throws<InvalidOperationException>(() => w.EndDirectory());
        w.StartDirectory("d"u8);
        Assert.Throws<InvalidOperationException>(() => w.Finish());
        w.EndDirectory();
        w.Finish();
        Assert.Throws<InvalidOperationException>(() => w.AddSocket("s"u8));
    }

    [Fact]
    public async Task DeepNestingIsWrittenAndLookedUpWithoutRecursion()
    {
        const int depth = 20_000;
        var output = new MemoryStream();
        var w = new CatalogWriter(output);
        w.StartDirectory("r.pxar.didx"u8);
        for (int i = 0; i < depth; i++) w.StartDirectory("d"u8);
        w.AddFile("leaf"u8, 1, 2);
        for (int i = 0; i < depth; i++) w.EndDirectory();
        w.EndDirectory();
        w.Finish();
        var reader = await CatalogReader.OpenAsync(new MemorySource(output.ToArray()));
        var leaf = await reader.LookupPathAsync("r.pxar.didx/" + string.Join("/", Enumerable.Repeat("d", depth)) + "/leaf");
        Assert.Equal((CatalogEntryKind.File, 1UL, 2L), (leaf!.Kind, leaf.Size, leaf.MtimeSeconds));
    }

    internal static string Describe(CatalogEntry e) => e.Kind == CatalogEntryKind.File
        ? $"f:{e.NameText}:{e.Size}:{e.MtimeSeconds}"
        : $"{(char)e.Kind}:{e.NameText}";
}
