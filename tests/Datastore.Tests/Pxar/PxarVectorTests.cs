using System.Text;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

public class PxarVectorTests
{
    private static string Vec(string name) => Path.Combine(TestPaths.Vectors, "pxar", name);
    private static string Fixture(string name) => Path.Combine(TestPaths.Vectors, "pbs-fixtures", name);

    [Fact]
    public async Task UnifiedArchiveDecodesToTheListing()
    {
        var accessor = await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.pxar")));
        Assert.Equal(1, accessor.FormatVersion);
        PxarListing.AssertEqual(PxarListing.FromJson(Vec("A.listing.json")), await PxarListing.FromArchiveAsync(accessor));
    }

    [Fact]
    public async Task SplitArchiveDecodesToTheListing()
    {
        var accessor = await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.mpxar")), MemorySource.FromFile(Vec("A.ppxar")));
        Assert.Equal(2, accessor.FormatVersion);
        PxarListing.AssertEqual(PxarListing.FromJson(Vec("A.listing.json")), await PxarListing.FromArchiveAsync(accessor));
    }

    [Fact]
    public async Task LookupFindsEveryNameThroughGoodbyeTables()
    {
        var source = MemorySource.FromFile(Vec("A.pxar"));
        var accessor = await PxarAccessor.OpenAsync(source);
        int checkedNames = 0;
        foreach (var path in PxarListing.FromJson(Vec("A.listing.json")).Keys.Where(p => p != "."))
        {
            var entry = await accessor.LookupPathAsync(path);
            Assert.NotNull(entry);
            Assert.Equal(Encoding.UTF8.GetBytes(path.Split('/')[^1]), entry!.Name.Length == 0 ? null : (await accessor.LookupPathAsync(path, followFinalHardlink: false))!.Name);
            checkedNames++;
        }
        Assert.Equal(21, checkedNames);
        Assert.Null(await accessor.LookupPathAsync("a/nope"));
        Assert.Null(await accessor.LookupPathAsync("odd/" + new string('L', 254)));
        Assert.Null(await accessor.LookupAsync(accessor.Root, ".."));
        // Random access: only a small part of the 2 MiB archive was read for all those lookups.
        Assert.True(source.BytesRead < 1 << 20, $"read {source.BytesRead} bytes");
    }

    [Fact]
    public async Task HardlinkResolvesToTheTargetIdentity()
    {
        var accessor = await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.pxar")));
        var link = await accessor.LookupPathAsync("a/small.txt", followFinalHardlink: false);
        var target = await accessor.LookupPathAsync("a/hardlink-to-small");
        Assert.Equal(PxarEntryKind.Hardlink, link!.Kind);
        var resolved = await accessor.FollowHardlinkAsync(link);
        Assert.Equal(target!.Identity, resolved.Identity);
        Assert.Equal("a/hardlink-to-small", Encoding.UTF8.GetString(link.LinkTarget!));
        var counts = await PxarHardlinkCounter.CountAsync(accessor);
        Assert.Equal(2, counts[target.Identity]);
        Assert.Single(counts);
    }

    [Fact]
    public async Task ReadsFileRangesInBothForms()
    {
        var v1 = await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.pxar")));
        var v2 = await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.mpxar")), MemorySource.FromFile(Vec("A.ppxar")));
        var f1 = await v1.LookupPathAsync("a/b/large.bin");
        var f2 = await v2.LookupPathAsync("a/b/large.bin");
        var b1 = new byte[5000];
        var b2 = new byte[5000];
        Assert.Equal(5000, await v1.ReadFileAsync(f1!, 1_000_000, b1));
        Assert.Equal(5000, await v2.ReadFileAsync(f2!, 1_000_000, b2));
        Assert.Equal(b1, b2);
        Assert.Equal(17, await v1.ReadFileAsync(f1!, 1572864, b1));
        Assert.Equal(0, await v2.ReadFileAsync(f2!, 1572881, b2));
    }

    [Theory]
    [InlineData("backup-client-pxar-data.mpxar", false)]
    [InlineData("backup-client-pxar-expected.mpxar", true)]
    public async Task PbsFixturesDecodeWithoutPayload(string file, bool hasPrelude)
    {
        var accessor = await PxarAccessor.OpenAsync(MemorySource.FromFile(Fixture(file)));
        Assert.Equal(2, accessor.FormatVersion);
        var prelude = await accessor.ReadPreludeAsync();
        Assert.Equal(hasPrelude, prelude != null);
        var listing = await PxarListing.FromArchiveAsync(accessor, withContent: false);
        Assert.Equal(111, listing.Count);
        for (int d = 0; d < 10; d++)
        {
            Assert.StartsWith("type=d mode=0o", listing[$"folder_{d}"]);
            for (int f = 0; f < 10; f++)
                Assert.Equal("type=- mode=0o777 uid=1000 gid=1000 mtime=0 size=1048576 sha256= nlink=1", listing[$"folder_{d}/file_{f}"]);
            var dir = await accessor.LookupPathAsync($"folder_{d}");
            for (int f = 0; f < 10; f++)
                Assert.Equal($"file_{f}", (await accessor.LookupAsync(dir!, $"file_{f}"))!.NameString);
        }
        var someFile = await accessor.LookupPathAsync("folder_3/file_7");
        await Assert.ThrowsAnyAsync<BackupFs.Datastore.Formats.BackupFsException>(async () => await accessor.ReadFileAsync(someFile!, 0, new byte[10]));
    }
}
