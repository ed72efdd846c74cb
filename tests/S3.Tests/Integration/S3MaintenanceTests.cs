using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.S3.Chunks;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

/// <summary>Garbage collection, verify and prune on an S3 datastore, against the real gateway.</summary>
[Collection(S3GatewayCollection.Name)]
public class S3MaintenanceTests(S3GatewayFixture gw)
{
    private static byte[] Data(int size, int seed)
    {
        var b = new byte[size];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static async Task<SnapshotRef> BackupAsync(DataStore ds, string group, byte[] data, long time)
    {
        await using var w = await BackupStarter.BeginAsync(ds, BackupGroup.Parse(group), new BackupOptions { BackupTime = time });
        var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024);
        f.Write(data);
        await w.CloseArchiveAsync(f);
        await w.FinishAsync();
        return w.Snapshot;
    }

    [Fact]
    public async Task GcRemovesUnreferencedObjectsInBatchesAndKeepsReferencedOnes()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, capacity: 1000), gw.Credentials);
        using var s3 = S3Datastore.Open(root);
        var ds = s3.ToDataStore();

        var keep = await BackupAsync(ds, "host/keep", Data(20 * 64 * 1024, 1), 1000);
        var gone = await BackupAsync(ds, "host/gone", Data(30 * 64 * 1024, 2), 1000);
        await new Pruner(ds).ForgetAsync(gone);
        // Age every cached chunk: marking gives referenced ones a fresh atime.
        foreach (var f in Directory.EnumerateFiles(Path.Combine(root, ".chunks"), "*", SearchOption.AllDirectories))
            File.SetLastAccessTimeUtc(f, DateTime.UtcNow.AddDays(-3));
        // An object nothing in the cache knows of (e.g. left by an aborted upload): also garbage.
        var orphan = TestChunks.Make(4321);
        await s3.Client.PutAsync(s3.Layout.ChunkObjectKey(orphan.Digest), orphan.Blob, noReplace: true);

        var before = s3.Client.Counters.Snapshot();
        var status = await new GarbageCollector(ds, new GcOptions { AtimeCutoff = TimeSpan.FromHours(1) }).RunAsync();
        var used = s3.Client.Counters.Snapshot() - before;

        Assert.Equal(31, status.RemovedChunks);                 // 30 chunks of the forgotten snapshot + the orphan
        Assert.Equal(0, status.MissingChunks);
        Assert.Equal(1, used.Delete);                           // one DeleteObjects for 31 keys
        Assert.Equal(0, used.Get);                              // marking reads no chunk
        var keys = await gw.KeysAsync(bucket, "store1/.chunks/");
        Assert.Equal(20, keys.Count);

        // Everything the kept snapshot needs still comes back from the bucket, with an empty cache.
        foreach (var f in Directory.EnumerateFiles(Path.Combine(root, ".chunks"), "*", SearchOption.AllDirectories)) File.Delete(f);
        using var s3b = S3Datastore.Open(root);
        var dsb = s3b.ToDataStore();
        var reader = SnapshotReader.Open(dsb, keep, new DecodingChunkSource(dsb.Chunks));
        var archive = reader.OpenArchive("disk.img.fidx");
        var buf = new byte[archive.Length];
        Assert.Equal(buf.Length, await archive.ReadAtAsync(0, buf));
        Assert.Equal(Data(20 * 64 * 1024, 1), buf);
    }

    [Fact]
    public async Task GcDuringBackupsLosesNothing()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, capacity: 1000), gw.Credentials);
        using var s3 = S3Datastore.Open(root);
        var ds = s3.ToDataStore();
        var shared = Data(16 * 64 * 1024, 7);
        await BackupAsync(ds, "host/base", shared, 1000);

        var backups = Enumerable.Range(0, 6).Select(i => Task.Run(() =>
        {
            var data = shared.ToArray();
            new Random(100 + i).NextBytes(data.AsSpan(0, 64 * 1024)); // one new chunk each, the rest shared
            return BackupAsync(ds, $"host/b{i}", data, 2000 + i);
        })).ToList();
        var gc = new GarbageCollector(ds, new GcOptions { AtimeCutoff = TimeSpan.Zero }).RunAsync();
        var snapshots = await Task.WhenAll(backups);
        await gc;

        // Zero missing: every index of every snapshot resolves all chunks from the bucket.
        var verify = await new Verifier(ds).VerifyAllAsync();
        Assert.True(verify.AllOk, string.Join("\n", verify.Snapshots.SelectMany(s => s.Errors)));
        Assert.Equal(7, verify.OkCount);
        Assert.Equal(7, snapshots.Length + 1);
    }

    [Fact]
    public async Task VerifyRenamesAChunkCorruptedInTheBucketAndABackupHealsIt()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, capacity: 1000), gw.Credentials);
        using var s3 = S3Datastore.Open(root);
        var ds = s3.ToDataStore();
        var data = Data(8 * 64 * 1024, 3);
        var snap = await BackupAsync(ds, "vm/100", data, 1000);
        var index = FixedIndex.Load(Path.Combine(ds.FullPath(snap.RelativePath), "disk.img.fidx"));
        var victim = index.DigestAt(3);
        var key = s3.Layout.ChunkObjectKey(victim);
        var blob = await s3.Client.GetAsync(key);
        blob![^1] ^= 0x10;
        await gw.Admin.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = bucket, Key = key, InputStream = new MemoryStream(blob) });

        var report = await new Verifier(ds).VerifyAllAsync();
        Assert.Equal(1, report.FailedCount);
        Assert.Contains(report.RenamedChunks, r => r.Digest == victim && r.NewLocation.EndsWith(".0.bad"));
        var keys = await gw.KeysAsync(bucket, "store1/.chunks/");
        Assert.Contains(key + ".0.bad", keys);
        Assert.DoesNotContain(key, keys);
        var manifest = BackupManifest.FromBlob(File.ReadAllBytes(Path.Combine(ds.FullPath(snap.RelativePath), "index.json.blob")));
        Assert.Equal("failed", manifest.Unprotected["verify_state"]!["state"]!.GetValue<string>());

        // A new backup of the same data uploads a good copy again.
        await BackupAsync(ds, "vm/100", data, 2000);
        Assert.Contains(key, await gw.KeysAsync(bucket, "store1/.chunks/"));
        var again = await new Verifier(ds).VerifySnapshotAsync(new SnapshotRef(snap.Group, 2000));
        Assert.True(again.AllOk);
    }

    [Fact]
    public async Task PruneDeletesTheSnapshotObjectsAndNotANeighbouringGroup()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, capacity: 1000), gw.Credentials);
        using var s3 = S3Datastore.Open(root);
        var ds = s3.ToDataStore();
        await BackupAsync(ds, "vm/100", Data(64 * 1024, 1), 1000);
        await BackupAsync(ds, "vm/100", Data(64 * 1024, 2), 2000);
        await BackupAsync(ds, "vm/1000", Data(64 * 1024, 3), 1000);

        var result = await new Pruner(ds).PruneAsync(BackupGroup.Parse("vm/100"), new KeepOptions(Last: 1));
        Assert.Equal(1, result.RemovedCount);
        var content = await gw.KeysAsync(bucket, "store1/.cnt/");
        Assert.DoesNotContain(content, k => k.Contains("vm/100/1970-01-01T00:16:40Z/"));
        Assert.Contains(content, k => k.Contains("vm/100/1970-01-01T00:33:20Z/index.json.blob"));
        Assert.Contains(content, k => k.Contains("vm/1000/1970-01-01T00:16:40Z/index.json.blob"));
    }
}

/// <summary>The gateway going away during GC or prune: a clear error, nothing referenced lost, and the rerun finishes the job.</summary>
[Collection(S3GatewayCollection.Name)]
public class S3MaintenanceFaultTests(S3GatewayFixture gw)
{
    [Fact]
    public async Task GcAndPruneFailCleanlyWhileTheGatewayIsDownAndSucceedWhenRerun()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        var root = System.IO.Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, endpoint: proxy.Endpoint, timeoutSeconds: 2, attempts: 2, capacity: 1000), gw.Credentials);
        using var s3 = S3Datastore.Open(root, new S3OpenOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50) });
        var ds = s3.ToDataStore();
        var data = new byte[10 * 64 * 1024];
        new Random(5).NextBytes(data);
        SnapshotRef last = null!;
        for (int i = 1; i <= 3; i++)
        {
            data[i] ^= 0xff; // a new first chunk each time
            await using var w = await BackupStarter.BeginAsync(ds, BackupGroup.Parse("vm/100"), new BackupOptions { BackupTime = 1000 * i });
            var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024);
            f.Write(data);
            await w.CloseArchiveAsync(f);
            await w.FinishAsync();
            last = w.Snapshot;
        }

        proxy.Down = true;
        var pruneError = await Assert.ThrowsAnyAsync<BackupFsException>(() => new Pruner(ds).PruneAsync(BackupGroup.Parse("vm/100"), new KeepOptions(Last: 1)));
        Assert.DoesNotContain("   at ", pruneError.Message);
        Assert.Equal(3, ds.ListFinishedSnapshots(BackupGroup.Parse("vm/100")).Count); // nothing half-removed locally
        await Assert.ThrowsAnyAsync<BackupFsException>(() => new GarbageCollector(ds, new GcOptions { AtimeCutoff = TimeSpan.Zero }).RunAsync());

        proxy.Down = false;
        await S3GatewayFixture.UntilAnsweringAsync(s3.Client);
        var pruned = await new Pruner(ds).PruneAsync(BackupGroup.Parse("vm/100"), new KeepOptions(Last: 1));
        Assert.Equal(2, pruned.RemovedCount);
        foreach (var f in Directory.EnumerateFiles(System.IO.Path.Combine(root, ".chunks"), "*", SearchOption.AllDirectories))
            File.SetLastAccessTimeUtc(f, DateTime.UtcNow.AddDays(-3));
        var status = await new GarbageCollector(ds, new GcOptions { AtimeCutoff = TimeSpan.FromHours(1) }).RunAsync();
        Assert.Equal(2, status.RemovedChunks); // the first chunks of the two pruned snapshots
        var verify = await new Verifier(ds).VerifySnapshotAsync(last);
        Assert.True(verify.AllOk);
    }
}
