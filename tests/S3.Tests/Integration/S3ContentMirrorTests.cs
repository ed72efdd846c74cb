using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.S3.Content;
using BackupFs.S3.Layout;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

[Collection(S3GatewayCollection.Name)]
public class S3ContentMirrorTests(S3GatewayFixture gw)
{
    private static readonly S3KeyLayout Layout = new("store1");
    private const string Snap = "vm/100/2025-07-14T14:20:02Z";

    [Fact]
    public async Task PutWritesUnderDotCntAndNoReplaceKeepsTheFirst()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var mirror = new S3ContentMirror(client, Layout);
        await mirror.PutAsync("vm/100/owner", "root@pam\n"u8.ToArray(), noReplace: false);
        await mirror.PutAsync("vm/100/owner", "backup@pbs\n"u8.ToArray(), noReplace: false);
        await mirror.PutAsync(Snap + "/.protected", ReadOnlyMemory<byte>.Empty, noReplace: true);
        await mirror.PutAsync(Snap + "/.protected", "x"u8.ToArray(), noReplace: true);
        Assert.Equal("backup@pbs\n", Encoding.UTF8.GetString((await mirror.GetAsync("vm/100/owner"))!));
        Assert.Empty((await mirror.GetAsync(Snap + "/.protected"))!);
        Assert.Equal(["store1/.cnt/vm/100/2025-07-14T14:20:02Z/.protected", "store1/.cnt/vm/100/owner"],
            (await gw.KeysAsync(bucket)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task DeletePrefixStopsAtTheDirectoryBoundary()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var mirror = new S3ContentMirror(client, Layout);
        foreach (var path in new[] { "vm/100/owner", Snap + "/index.json.blob", Snap + "/drive-scsi0.img.fidx", "vm/1000/owner", "vm/1000/2025-07-14T14:20:02Z/index.json.blob", "ns/a/.namespace", "ns/ab/.namespace" })
            await mirror.PutAsync(path, "x"u8.ToArray(), noReplace: false);

        await mirror.DeletePrefixAsync("vm/100");
        await mirror.DeletePrefixAsync("ns/a");
        Assert.Equal(["store1/.cnt/ns/ab/.namespace", "store1/.cnt/vm/1000/2025-07-14T14:20:02Z/index.json.blob", "store1/.cnt/vm/1000/owner"],
            (await gw.KeysAsync(bucket)).Order(StringComparer.Ordinal));

        await mirror.DeleteAsync("vm/1000/owner");
        Assert.Equal(2, (await gw.KeysAsync(bucket)).Count);
    }

    [Theory]
    [InlineData("../../etc/x")]
    [InlineData("vm/100/../x")]
    [InlineData("vm/100/evil.sh")]
    public async Task InvalidPathsAreRefusedBeforeAnyRequest(string path)
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var mirror = new S3ContentMirror(client, Layout);
        await Assert.ThrowsAsync<InvalidNameException>(() => mirror.PutAsync(path, new byte[1], false).AsTask());
        await Assert.ThrowsAsync<InvalidNameException>(() => mirror.DeleteAsync(path).AsTask());
        Assert.Equal(0, client.Counters.Snapshot().Total);
    }
}
