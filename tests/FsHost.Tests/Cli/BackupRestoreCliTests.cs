using BackupFs.Datastore.Catalog;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>The issue's round trip through the command line: a tree with every kind of entry and a
/// 100 MB file is backed up, restored identically, and a second backup adds no chunks.</summary>
public class BackupRestoreCliTests : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task TreeRestoresIdenticallyAndSecondBackupAddsNoChunks()
    {
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        CliRunner.MkTree(src, "cli");
        var big = new byte[100 * 1000 * 1000];
        new Random(5).NextBytes(big.AsSpan(0, big.Length / 2)); // half random, half zeros (compressible)
        File.WriteAllBytes(Path.Combine(src, "big.bin"), big);
        File.SetLastWriteTimeUtc(Path.Combine(src, "big.bin"), new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc));

        await CliRunner.RunOkAsync("init", store);
        var snapshot = (await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "web1", "--ns", "team")).Trim();
        Assert.Matches(@"^ns/team/host/web1/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", snapshot);

        var target = _tmp.Sub("restored");
        await CliRunner.RunOkAsync("restore", store, snapshot, "root.pxar", target);
        Assert.Equal(CliRunner.MkTree("--list", src), CliRunner.MkTree("--list", target));

        // One file through --path, one through cat.
        var one = _tmp.Sub("one");
        await CliRunner.RunOkAsync("restore", store, "ns/team/host/web1", "root.pxar", one, "--path", "a/b/large.bin");
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, "a/b/large.bin")), File.ReadAllBytes(Path.Combine(one, "large.bin")));

        var (code, _, err) = await CliRunner.RunAsync("backup", store, src, "--type", "host", "--id", "web1", "--ns", "team");
        Assert.Equal(0, code);
        Assert.Contains(" 0 new ", err);
        var listing = await CliRunner.RunOkAsync("snapshots", store, "--ns", "team");
        Assert.Equal(2, listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task DirectoryBackupCarriesACatalogListingTheTree()
    {
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        CliRunner.MkTree(src, "catalog");
        await CliRunner.RunOkAsync("init", store);
        var snapshot = (await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "c")).Trim();

        var ds = DataStore.OpenLocal(store);
        using var chunks = new CachedChunkSource(new DecodingChunkSource(ds.Chunks));
        var reader = SnapshotReader.Open(ds, SnapshotRef.Parse(snapshot), chunks);
        Assert.Equal(new[] { "root.pxar.didx", "catalog.pcat1.didx" }, reader.FileNames);
        var catalog = await CatalogReader.OpenAsync(reader.OpenArchive("catalog.pcat1.didx"));
        var top = (await catalog.ListDirectoryAsync("/root.pxar.didx")).Select(e => e.NameText);
        var expected = Directory.GetFileSystemEntries(src).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(expected, top);
        var small = await catalog.LookupPathAsync("root.pxar.didx/a/b/c/deep.bin");
        Assert.Equal((ulong)new FileInfo(Path.Combine(src, "a/b/c/deep.bin")).Length, small!.Size);

        // Verify checks the catalog like any archive; restore ignores it.
        Assert.Contains("1 ok, 0 failed", await CliRunner.RunOkAsync("verify", store));
        var target = _tmp.Sub("restored");
        await CliRunner.RunOkAsync("restore", store, snapshot, "root.pxar", target);
        Assert.Equal(CliRunner.MkTree("--list", src), CliRunner.MkTree("--list", target));
    }

    [Fact]
    public async Task ImageBackupRestoresByteForByte()
    {
        var store = _tmp.Sub("ds");
        var image = _tmp.Sub("disk.raw");
        var data = new byte[9 * 1024 * 1024 + 4321];
        new Random(9).NextBytes(data);
        File.WriteAllBytes(image, data);
        await CliRunner.RunOkAsync("init", store);
        var snapshot = (await CliRunner.RunOkAsync("backup", store, image, "--image", "--type", "vm", "--id", "100", "--archive", "drive-scsi0.img")).Trim();
        var restored = _tmp.Sub("out.raw");
        await CliRunner.RunOkAsync("restore", store, snapshot, "drive-scsi0.img", restored);
        Assert.Equal(data, File.ReadAllBytes(restored));
    }

    [Theory]
    [InlineData("backup", "{store}", "{src}", "--type", "disk", "--id", "x")]
    [InlineData("backup", "{store}", "{src}", "--type", "host", "--id", "../etc")]
    [InlineData("backup", "{store}", "{src}", "--type", "host", "--id", "a", "--ns", "a/../b")]
    [InlineData("backup", "{store}", "/nonexistent/dir", "--type", "host", "--id", "a")]
    [InlineData("snapshots", "/nonexistent/store")]
    [InlineData("restore", "{store}", "host/none", "root.pxar", "{tmp}/x")]
    [InlineData("restore", "{store}", "host/../../etc/2025-01-01T00:00:00Z", "root.pxar", "{tmp}/x")]
    [InlineData("cat", "{store}", "host/none/2025-01-01T00:00:00Z", "root.pxar")]
    [InlineData("init", "{src}")]
    public async Task UserMistakesGiveOneClearLine(params string[] template)
    {
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "f"), "x");
        if (!Directory.Exists(store)) await CliRunner.RunOkAsync("init", store);
        var args = template.Select(a => a.Replace("{store}", store).Replace("{src}", src).Replace("{tmp}", _tmp.Path)).ToArray();
        var (code, _, err) = await CliRunner.RunAsync(args);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
        Assert.Single(err.Trim().Split('\n'));
    }
}
