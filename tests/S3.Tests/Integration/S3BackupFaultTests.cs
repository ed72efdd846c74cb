using System.Diagnostics;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

/// <summary>The object store going away in the middle of a backup: a clean error, no snapshot, and a rerun that reuses what was uploaded.</summary>
[Collection(S3GatewayCollection.Name)]
public class S3BackupFaultTests(S3GatewayFixture gw)
{
    [Fact]
    public async Task GatewayStoppedMidBackupLeavesNothingAndTheRerunReusesUploadedChunks()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, endpoint: proxy.Endpoint, timeoutSeconds: 2, attempts: 2, capacity: 1000), gw.Credentials);
        var data = new byte[40 * 64 * 1024];
        new Random(11).NextBytes(data);
        var group = BackupGroup.Parse("host/flaky");

        using (var s3 = S3Datastore.Open(root, new S3OpenOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50) }))
        {
            var ds = s3.ToDataStore();
            var clock = Stopwatch.StartNew();
            var failure = await Assert.ThrowsAnyAsync<BackupFsException>(async () =>
            {
                await using var w = await BackupStarter.BeginAsync(ds, group, new BackupOptions { BackupTime = 1000, MaxChunksInFlight = 2 });
                var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024);
                f.Write(data.AsSpan(0, 20 * 64 * 1024));
                await Task.Delay(200);
                proxy.Down = true;                            // the gateway disappears mid-backup
                f.Write(data.AsSpan(20 * 64 * 1024));
                await w.CloseArchiveAsync(f);
                await w.FinishAsync();
            });
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
            Assert.DoesNotContain("   at ", failure.Message);
            Assert.Empty(ds.ListFinishedSnapshots(group));
        }
        proxy.Down = false;
        Assert.DoesNotContain(await gw.KeysAsync(bucket, "store1/.cnt/"), k => k.EndsWith("index.json.blob"));
        int uploadedBefore = (await gw.KeysAsync(bucket, "store1/.chunks/")).Count;
        Assert.True(uploadedBefore > 0);

        using (var s3 = S3Datastore.Open(root))
        {
            var ds = s3.ToDataStore();
            await using var w = await BackupStarter.BeginAsync(ds, group, new BackupOptions { BackupTime = 2000 });
            var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024);
            f.Write(data);
            await w.CloseArchiveAsync(f);
            await w.FinishAsync();
            Assert.Equal(40 - uploadedBefore, w.Stats.InsertedChunks);   // only what was missing went up
            Assert.Single(ds.ListFinishedSnapshots(group));
        }
        Assert.Equal(40, (await gw.KeysAsync(bucket, "store1/.chunks/")).Count);
    }
}
