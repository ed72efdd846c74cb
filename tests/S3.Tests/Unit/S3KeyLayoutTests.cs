using BackupFs.Datastore.Formats;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Tests.Unit;

public class S3KeyLayoutTests
{
    private static readonly S3KeyLayout Layout = new("store1");
    // SHA-256 of 4 MiB of zeros: the digest PBS uses in its own S3 key tests.
    private static readonly Digest Zero = Digest.Parse("bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8");

    [Fact]
    public void ChunkKeyMatchesThePbsLayoutAndRoundTrips()
    {
        var key = Layout.ChunkObjectKey(Zero);
        Assert.Equal("store1/.chunks/bb9f/bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8", key);
        Assert.True(Layout.TryParseChunkKey(key, out var parsed));
        Assert.Equal(Zero, parsed.Digest);
        Assert.Null(parsed.BadIndex);
    }

    [Fact]
    public void BadChunkKeyRoundTrips()
    {
        var key = Layout.BadChunkObjectKey(Zero, 3);
        Assert.EndsWith("3af8.3.bad", key);
        Assert.True(Layout.TryParseChunkKey(key, out var parsed));
        Assert.Equal(3, parsed.BadIndex);
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.BadChunkObjectKey(Zero, 10));
    }

    [Theory]
    [InlineData("store1/.chunks/bb9f/BB9F8DF61474D25E71FA00722318CD387396CA1736605E1248821CC0DE3D3AF8")] // upper case
    [InlineData("store1/.chunks/0000/bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8")] // wrong prefix dir
    [InlineData("store1/.chunks/bb9f/bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af")]  // 63 hex
    [InlineData("store1/.chunks/bb9f/bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8.x.bad")]
    [InlineData("store1/.chunks/bb9f/bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8.10.bad")]
    [InlineData("store1/.chunks/bb9f/bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8.using")]
    [InlineData("store1/.chunks/bb9f/../bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8")]
    [InlineData("store2/.chunks/bb9f/bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8")]   // other store
    [InlineData("store1/.cnt/vm/100/owner")]
    public void HostileOrForeignChunkKeysAreRejected(string key)
    {
        Assert.False(Layout.TryParseChunkKey(key, out _));
    }

    [Theory]
    [InlineData("ns/test/.namespace")]
    [InlineData("ns/a/ns/b/ns/c/ns/d/ns/e/ns/f/ns/g/.namespace")]
    [InlineData("ns/test/vm/100/owner")]
    [InlineData("vm/100/notes")]
    [InlineData("vm/100/2025-07-14T14:20:02Z/drive-scsi0.img.fidx")]
    [InlineData("host/myhost/2025-07-14T14:20:02Z/test.pxar.didx")]
    [InlineData("ct/101/2025-07-14T14:20:02Z/index.json.blob")]
    [InlineData("ct/101/2025-07-14T14:20:02Z/.protected")]
    [InlineData("ns/a/host/x_y.z-1/2025-01-01T00:00:00Z/client.log.blob")]
    public void ValidContentPathsRoundTrip(string rel)
    {
        var key = Layout.ContentObjectKey(rel);
        Assert.Equal("store1/.cnt/" + rel, key);
        Assert.True(Layout.TryParseContentKey(key, out var back, out var reason), reason);
        Assert.Equal(rel, back);
    }

    [Theory]
    [InlineData("../../etc/x")]
    [InlineData("vm/100/../x")]
    [InlineData("vm/100/2025-07-14T14:20:02Z/../../../../x.blob")]
    [InlineData("./vm/100/owner")]
    [InlineData("vm//100/owner")]
    [InlineData("/vm/100/owner")]
    [InlineData("vm/100/owner/")]
    [InlineData("vm/100/evil.sh")]
    [InlineData("vm/100/2025-07-14T14:20:02Z/evil.sh")]
    [InlineData("vm/100/2025-07-14T14:20:02Z/.hidden.blob")]
    [InlineData("vm/100/2025-13-14T14:20:02Z/index.json.blob")]  // month 13
    [InlineData("vm/100/2025-07-14 14:20:02Z/index.json.blob")]
    [InlineData("vm/100/1970-01-01T00:00:00Z/index.json.blob")] // epoch 0 is not a backup time
    [InlineData("xx/100/owner")]
    [InlineData("VM/100/owner")]
    [InlineData("vm/.100/owner")]
    [InlineData("vm/-100/owner")]
    [InlineData("ns/.hidden/.namespace")]
    [InlineData(".namespace")]                       // the root namespace has no marker
    [InlineData("ns/a")]
    [InlineData("ns/a/.namespace/x")]
    [InlineData("ns/a/ns/b/ns/c/ns/d/ns/e/ns/f/ns/g/ns/h/.namespace")] // depth 8
    [InlineData("vm/100")]
    [InlineData("vm/100/2025-07-14T14:20:02Z")]
    [InlineData("vm/100/2025-07-14T14:20:02Z/a.blob/b.blob")]
    [InlineData("vm/100/2025-07-14T14:20:02Z/x\n.blob")]
    [InlineData("")]
    public void HostileContentPathsAreRejected(string rel)
    {
        Assert.False(Layout.TryParseContentKey("store1/.cnt/" + rel, out _, out var reason));
        Assert.False(string.IsNullOrEmpty(reason));
        Assert.Throws<InvalidNameException>(() => Layout.ContentObjectKey(rel));
    }

    [Fact]
    public void ContentKeysOfOtherStoresOrAreasAreRejected()
    {
        Assert.False(Layout.TryParseContentKey("store2/.cnt/vm/100/owner", out _, out _));
        Assert.False(Layout.TryParseContentKey("store1/.chunks/vm/100/owner", out _, out _));
        Assert.False(Layout.TryParseContentKey("store1/vm/100/owner", out _, out _));
    }

    [Theory]
    [InlineData("vm/100", "store1/.cnt/vm/100/")]
    [InlineData("vm/100/", "store1/.cnt/vm/100/")]
    [InlineData("ns/a", "store1/.cnt/ns/a/")]
    [InlineData("ns/a/vm", "store1/.cnt/ns/a/vm/")]
    [InlineData("vm/100/2025-07-14T14:20:02Z", "store1/.cnt/vm/100/2025-07-14T14:20:02Z/")]
    [InlineData("", "store1/.cnt/")]
    public void DirectoryPrefixesEndWithASlash(string dir, string prefix)
    {
        Assert.Equal(prefix, Layout.ContentDirectoryPrefix(dir));
    }

    [Theory]
    [InlineData("vm/../..")]
    [InlineData("vm/100/owner")]
    [InlineData("ns/.bad")]
    [InlineData("..")]
    public void InvalidDirectoryPrefixesAreRefused(string dir)
    {
        Assert.Throws<InvalidNameException>(() => Layout.ContentDirectoryPrefix(dir));
    }

    [Theory]
    [InlineData("")]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData(".store")]
    public void InvalidStoreNamesAreRefused(string name)
    {
        Assert.Throws<InvalidNameException>(() => new S3KeyLayout(name));
    }
}
