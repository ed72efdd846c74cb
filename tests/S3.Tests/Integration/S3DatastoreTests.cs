using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Config;
using BackupFs.S3.Maintenance;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

[Collection(S3GatewayCollection.Name)]
public class S3DatastoreTests(S3GatewayFixture gw)
{
    [Fact]
    public async Task InitOpenCheckWriteAndRefreshIntoASecondCache()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        var first = Path.Combine(dir.Path, "cache1");
        S3Datastore.Init(first, gw.Config(bucket, capacity: 100), gw.Credentials);
        Assert.True(S3Datastore.IsS3Datastore(first));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(S3ConfigFiles.SecretsPath(first)));
        Assert.Throws<BackupFsException>(() => S3Datastore.Init(first, gw.Config(bucket)));

        var c = TestChunks.Make(100);
        using (var store = S3Datastore.Open(first))
        {
            var check = await store.CheckAsync();
            Assert.True(check.Ok, check.Message);
            Assert.StartsWith("OK", check.Message);
            var ds = store.ToDataStore();
            Assert.Equal("store1", ds.Name);
            await ds.Chunks.InsertAsync(c.Digest, c.Blob);
            await ds.Mirror.PutAsync("vm/100/owner", "root@pam\n"u8.ToArray(), noReplace: false);
            Directory.CreateDirectory(Path.Combine(first, "vm", "100"));
        }

        // A second machine: same bucket and store name, empty cache, refreshed from the bucket.
        var second = Path.Combine(dir.Path, "cache2");
        S3Datastore.Init(second, gw.Config(bucket, capacity: 100), gw.Credentials);
        using (var store = S3Datastore.Open(second))
        {
            var result = await store.RefreshAsync();
            Assert.Equal(1, result.Files);
            Assert.Equal("root@pam\n", File.ReadAllText(Path.Combine(second, "vm", "100", "owner")));
            Assert.Equal(c.Blob, await store.Chunks.ReadBlobAsync(c.Digest));
            var listed = new List<Chunks.S3ChunkObject>();
            await foreach (var o in store.ListChunksAsync()) listed.Add(o);
            Assert.Equal(c.Digest, Assert.Single(listed).Chunk.Digest);
        }
    }

    [Fact]
    public async Task CheckGivesOneClearLinePerFault()
    {
        var bucket = await gw.NewBucketAsync();
        var layout = new Layout.S3KeyLayout("store1");

        using (var wrongSecret = gw.Client(bucket, credentials: new S3Credentials(gw.AccessKey, "wrong", "test")))
        {
            var r = await S3ConnectionCheck.RunAsync(wrongSecret, layout);
            Assert.False(r.Ok);
            Assert.Contains("secret key does not match", r.Message);
        }
        using (var missing = gw.Client("missing-" + Guid.NewGuid().ToString("N")[..8]))
        {
            var r = await S3ConnectionCheck.RunAsync(missing, layout);
            Assert.False(r.Ok);
            Assert.Contains("does not exist", r.Message);
        }
        using (var badEndpoint = gw.Client(bucket, endpoint: "http://127.0.0.1:9", attempts: 1))
        {
            var r = await S3ConnectionCheck.RunAsync(badEndpoint, layout);
            Assert.False(r.Ok);
            Assert.Contains("cannot reach S3 endpoint http://127.0.0.1:9", r.Message);
        }
        using (var good = gw.Client(bucket))
        {
            var r = await S3ConnectionCheck.RunAsync(good, layout);
            Assert.True(r.Ok, r.Message);
            Assert.Empty(await gw.KeysAsync(bucket));   // the probe object is gone again
        }
    }

    [Fact]
    public void OpeningAStoreInMaintenanceOrWithoutConfigFails()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<BackupFsException>(() => S3Datastore.Open(dir.Path));
        Assert.Contains("not an S3 datastore", e.Message);
        S3ConfigFiles.SaveConfig(dir.Path, gw.Config("some-bucket"));
        using (MaintenanceMarker.Enter(dir.Path, "s3-refresh"))
        {
            e = Assert.Throws<BackupFsException>(() => S3Datastore.Open(dir.Path, new S3OpenOptions { Credentials = gw.Credentials }));
            Assert.Contains("maintenance", e.Message);
        }
    }

    [Fact]
    public async Task AStoreCanBeClaimedOnceUnlessOverwritten()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var layout = new Layout.S3KeyLayout("store1");
        Assert.Null(await S3InUseMarker.ReadOwnerAsync(client, layout));
        await S3InUseMarker.ClaimAsync(client, layout, overwrite: false);
        Assert.Equal(Environment.MachineName, await S3InUseMarker.ReadOwnerAsync(client, layout));
        var e = await Assert.ThrowsAsync<BackendException>(() => S3InUseMarker.ClaimAsync(client, layout, overwrite: false));
        Assert.Contains("already in use", e.Message);
        await S3InUseMarker.ClaimAsync(client, layout, overwrite: true);
        Assert.Contains("store1/.in-use", await gw.KeysAsync(bucket));
    }
}
