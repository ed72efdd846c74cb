using System.Diagnostics;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.S3.Client;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.S3.Tests.Integration;

/// <summary>
/// A black-holed connection (the in-test proxy swallows every byte, pooled connections included):
/// each request ends at its deadline, later ones fail at once until the endpoint answers again,
/// and no operation leaves anything half-done.
/// </summary>
[Collection(S3GatewayCollection.Name)]
public class S3NetworkFaultTests(S3GatewayFixture gw, ITestOutputHelper output)
{
    private const double Timeout = 2;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(Timeout);
    private static readonly TimeSpan Bound = Deadline + FaultTiming.Margin;

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

    private static S3Datastore Open(string root) =>
        S3Datastore.Open(root, new S3OpenOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50), AdoptCachedChunks = false, Warn = _ => { } });

    [Fact]
    public async Task ABlackholeTimesOutAtTheDeadlineThenFailsFastAndRecoversByItself()
    {
        var bucket = await gw.NewBucketAsync();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        var log = new List<string>();
        using var client = S3ClientFactory.Create(gw.Config(bucket, proxy.Endpoint, timeoutSeconds: Timeout, attempts: 3),
            gw.Credentials, TimeSpan.FromMilliseconds(50), m => { lock (log) log.Add(m); });
        for (int i = 0; i < 4; i++) await client.PutAsync($"s/{i}", new byte[1000], noReplace: false);

        proxy.Blackhole = true;
        var sw = Stopwatch.StartNew();
        var reads = Enumerable.Range(0, 4).Select(i => FaultTiming.FailsAsync<S3RequestException>(() => client.GetAsync($"s/{i}"), Bound)).ToList();
        var results = await Task.WhenAll(reads);
        var first = sw.Elapsed;
        output.WriteLine($"4 parallel GETs into the black hole ended after {first.TotalSeconds:0.00} s");
        Assert.All(results, r => Assert.True(r.Elapsed <= Deadline + FaultTiming.Margin, $"took {r.Elapsed}"));
        Assert.All(results, r => Assert.True(r.Error is S3TimeoutException or S3UnavailableException, r.Error.ToString()));
        var timeout = Assert.Single(results, r => r.Error.Message.Contains("fail at once")).Error;
        Assert.IsType<S3TimeoutException>(timeout);
        Assert.Contains("within 2 s", timeout.Message);
        Assert.True(client.Breaker!.IsOpen);

        var (again, fast) = await FaultTiming.FailsAsync<S3UnavailableException>(() => client.GetAsync("s/0"), Bound);
        output.WriteLine($"next GET failed fast in {fast.TotalMilliseconds:0} ms: {again.Message}");
        Assert.True(fast < TimeSpan.FromSeconds(1), $"took {fast}");
        Assert.DoesNotContain(gw.SecretKey, again.Message + timeout.Message);

        proxy.Blackhole = false;
        var recovered = await FaultTiming.UntilSucceedsAsync(() => client.GetAsync("s/1"), TimeSpan.FromSeconds(20));
        output.WriteLine($"requests worked again {recovered.TotalSeconds:0.00} s after the black hole ended");
        Assert.Equal(1000, (await client.GetAsync("s/2"))!.Length);
        Assert.Equal(1, client.Breaker.Recoveries);
        lock (log) Assert.Contains(log, l => l.Contains("answers again"));
    }

    [Fact]
    public async Task ABackupIntoABlackholeFailsWithinTheDeadlineAndLeavesNoSnapshot()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, proxy.Endpoint, timeoutSeconds: Timeout, attempts: 3, capacity: 1000), gw.Credentials);
        var data = Data(40 * 64 * 1024, 5);
        var group = BackupGroup.Parse("host/hole");
        using (var s3 = Open(root))
        {
            var ds = s3.ToDataStore();
            var clock = new Stopwatch();
            var (error, _) = await FaultTiming.FailsAsync<BackupFsException>(async () =>
            {
                await using var w = await BackupStarter.BeginAsync(ds, group, new BackupOptions { BackupTime = 1000, MaxChunksInFlight = 2 });
                var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024);
                f.Write(data.AsSpan(0, 20 * 64 * 1024));
                await Task.Delay(300);                           // the first half is uploading
                proxy.Blackhole = true;
                clock.Start();
                f.Write(data.AsSpan(20 * 64 * 1024));
                await w.CloseArchiveAsync(f);
                await w.FinishAsync();
            }, TimeSpan.FromSeconds(30));
            output.WriteLine($"backup failed {clock.Elapsed.TotalSeconds:0.00} s into the black hole: {error.Message}");
            Assert.True(clock.Elapsed <= Bound, $"took {clock.Elapsed}");
            Assert.True(error is IBackendUnreachable, error.ToString());
            Assert.DoesNotContain("\n", error.Message);
            Assert.Empty(ds.ListFinishedSnapshots(group));
        }
        proxy.Blackhole = false;
        Assert.DoesNotContain(await gw.KeysAsync(bucket, "store1/.cnt/"), k => k.EndsWith("index.json.blob"));
        using (var s3 = Open(root))
        {
            await BackupAsync(s3.ToDataStore(), "host/hole", data, 2000);
            Assert.Single(s3.ToDataStore().ListFinishedSnapshots(group));
        }
    }

    [Fact]
    public async Task GcVerifyCheckAndRefreshEndWithinTheDeadlineAndChangeNothing()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, proxy.Endpoint, timeoutSeconds: Timeout, attempts: 3, capacity: 1000), gw.Credentials);
        SnapshotRef keep;
        using (var s3 = Open(root))
        {
            var ds = s3.ToDataStore();
            keep = await BackupAsync(ds, "host/keep", Data(10 * 64 * 1024, 1), 1000);
            var gone = await BackupAsync(ds, "host/gone", Data(10 * 64 * 1024, 2), 1000);
            await new Pruner(ds).ForgetAsync(gone);
        }
        foreach (var f in Directory.EnumerateFiles(Path.Combine(root, ".chunks"), "*", SearchOption.AllDirectories))
            File.SetLastAccessTimeUtc(f, DateTime.UtcNow.AddDays(-3));
        var chunksBefore = await gw.KeysAsync(bucket, "store1/.chunks/");
        var cachedBefore = Directory.EnumerateFiles(Path.Combine(root, ".chunks"), "*", SearchOption.AllDirectories).Count();
        var manifest = Path.Combine(root, keep.RelativePath, DataStore.ManifestName);
        var manifestBefore = File.ReadAllBytes(manifest);
        Assert.Equal(20, chunksBefore.Count);

        proxy.Blackhole = true;
        try
        {
            using (var s3 = Open(root))
            {
                var gc = new GarbageCollector(s3.ToDataStore(), new GcOptions { AtimeCutoff = TimeSpan.FromHours(1), AtimeSafetyCheck = false });
                var (e, t) = await FaultTiming.FailsAsync<BackupFsException>(() => gc.RunAsync(), Bound);
                output.WriteLine($"gc: {t.TotalSeconds:0.00} s: {e.Message}");
                Assert.True(t <= Bound, $"gc took {t}");
            }
            using (var s3 = Open(root))
            {
                var verifier = new Verifier(s3.ToDataStore(), new VerifyOptions());
                var (e, t) = await FaultTiming.FailsAsync<BackupFsException>(() => verifier.VerifyAllAsync(), Bound);
                output.WriteLine($"verify: {t.TotalSeconds:0.00} s: {e.Message}");
                Assert.True(e is IBackendUnreachable, e.ToString());
            }
            using (var s3 = Open(root))
            {
                var sw = Stopwatch.StartNew();
                var check = await s3.CheckAsync().WaitAsync(Bound);
                output.WriteLine($"s3 check: {sw.Elapsed.TotalSeconds:0.00} s: {check.Message}");
                Assert.False(check.Ok);
                Assert.DoesNotContain("\n", check.Message);
            }
            using (var s3 = Open(root))
            {
                var (e, t) = await FaultTiming.FailsAsync<BackupFsException>(() => s3.RefreshAsync(), Bound);
                output.WriteLine($"s3 refresh: {t.TotalSeconds:0.00} s: {e.Message}");
            }
        }
        finally { proxy.Blackhole = false; }

        // Nothing changed: every chunk object and cache file is still there, the manifest has no verify state, no maintenance mode is left.
        Assert.Equal(chunksBefore, await gw.KeysAsync(bucket, "store1/.chunks/"));
        Assert.Equal(cachedBefore, Directory.EnumerateFiles(Path.Combine(root, ".chunks"), "*", SearchOption.AllDirectories).Count(f => !f.EndsWith(".using")));
        Assert.Equal(manifestBefore, File.ReadAllBytes(manifest));
        Assert.True(File.Exists(manifest));
        using (var s3 = Open(root))
        {
            var status = await new GarbageCollector(s3.ToDataStore(), new GcOptions { AtimeCutoff = TimeSpan.FromHours(1), AtimeSafetyCheck = false }).RunAsync();
            Assert.Equal(10, status.RemovedChunks);
        }
    }
}

/// <summary>GC whose DeleteObjects gets no answer: the delete may or may not have happened, so the cache must not keep claiming those chunks.</summary>
[Collection(S3GatewayCollection.Name)]
public class S3GcAmbiguousDeleteTests(S3GatewayFixture gw)
{
    [Fact]
    public async Task AnUnansweredDeleteBatchDropsTheLocalCopiesSoALaterBackupUploadsAgain()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, proxy.Endpoint, timeoutSeconds: 2, attempts: 3, capacity: 1000), gw.Credentials);
        var data = new byte[8 * 64 * 1024];
        new Random(8).NextBytes(data);
        var group = BackupGroup.Parse("host/again");
        using var s3 = S3Datastore.Open(root, new S3OpenOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(50), AdoptCachedChunks = false });
        var ds = s3.ToDataStore();
        async Task<SnapshotWriter> Backup(long time)
        {
            var w = await BackupStarter.BeginAsync(ds, group, new BackupOptions { BackupTime = time });
            var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024);
            f.Write(data);
            await w.CloseArchiveAsync(f);
            await w.FinishAsync();
            await w.DisposeAsync();
            return w;
        }
        var first = await Backup(1000);
        await new Pruner(ds).ForgetAsync(first.Snapshot);
        var chunkFiles = Directory.EnumerateFiles(Path.Combine(root, ".chunks"), "*", SearchOption.AllDirectories).ToList();
        Assert.Equal(8, chunkFiles.Count);
        foreach (var f in chunkFiles) File.SetLastAccessTimeUtc(f, DateTime.UtcNow.AddDays(-3));

        // The DeleteObjects request (POST ?delete) vanishes: the server never sees it, the client gets no answer.
        proxy.BlackholeWhen = bytes =>
        {
            var head = System.Text.Encoding.ASCII.GetString(bytes.Span[..Math.Min(bytes.Length, 200)]);
            return head.StartsWith("POST ", StringComparison.Ordinal) && head.Contains("?delete", StringComparison.Ordinal);
        };
        var gc = new GarbageCollector(ds, new GcOptions { AtimeCutoff = TimeSpan.FromHours(1), AtimeSafetyCheck = false });
        var (error, _) = await FaultTiming.FailsAsync<BackupFsException>(() => gc.RunAsync(), TimeSpan.FromSeconds(2) + FaultTiming.Margin);
        Assert.True(error is IBackendUnreachable, error.ToString());
        proxy.BlackholeWhen = null;
        proxy.Blackhole = false;
        await S3GatewayFixture.UntilAnsweringAsync(s3.Client);

        Assert.Equal(8, (await gw.KeysAsync(bucket, "store1/.chunks/")).Count);       // nothing was deleted after all
        Assert.DoesNotContain(chunkFiles, File.Exists);                                  // but the cache no longer vouches for them
        var before = s3.Client.Counters.Snapshot();
        var second = await Backup(2000);
        Assert.True((s3.Client.Counters.Snapshot() - before).Put >= 8 + 2);              // each chunk was offered to the bucket again (412: there), + index and manifest
        var verify = await new Verifier(ds).VerifySnapshotAsync(second.Snapshot);
        Assert.True(verify.AllOk);
    }
}
