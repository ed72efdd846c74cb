using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.S3;
using BackupFs.S3.Tests.Support;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>
/// Reader hosts never write to the bucket (real gateway): every writing command on a cache store
/// set up with --reader refuses with one clear line, the operations below the command line are
/// refused by the bucket client before a request is sent, and the bucket's keys stay exactly as they were.
/// </summary>
public sealed class S3ReaderCliTests(S3GatewayFixture gw) : IClassFixture<S3GatewayFixture>, IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private async Task<(string Bucket, string Writer, string Snapshot)> WriterWithTwoSnapshotsAsync()
    {
        var bucket = await gw.NewBucketAsync();
        var writer = _tmp.Sub("writer");
        S3Datastore.Init(writer, gw.Config(bucket), gw.Credentials);
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "a.bin"), RandomBytes(200_000, 1));
        await CliRunner.RunOkAsync("backup", writer, src, "--type", "host", "--id", "h", "--time", "2025-01-01T00:00:00Z");
        File.WriteAllBytes(Path.Combine(src, "b.bin"), RandomBytes(100_000, 2));
        var last = (await CliRunner.RunOkAsync("backup", writer, src, "--type", "host", "--id", "h", "--time", "2025-01-02T00:00:00Z")).Trim();
        await CliRunner.RunOkAsync("ns", "create", writer, "team");
        return (bucket, writer, last);
    }

    private string NewReader(string bucket, string name = "reader")
    {
        var reader = _tmp.Sub(name);
        S3Datastore.Init(reader, gw.Config(bucket) with { Reader = true }, gw.Credentials);
        return reader;
    }

    [Fact]
    public async Task EveryWritingCommandRefusesOnAReaderAndTheBucketIsUntouched()
    {
        var (bucket, _, snapshot) = await WriterWithTwoSnapshotsAsync();
        var reader = NewReader(bucket);
        await CliRunner.RunOkAsync("s3", "refresh", reader);
        var before = await gw.KeysAsync(bucket);
        var src = _tmp.Sub("src");

        string[][] writing =
        [
            ["backup", reader, src, "--type", "host", "--id", "h"],
            ["prune", reader, "host/h", "--keep-last", "1"],
            ["forget", reader, snapshot],
            ["gc", reader, "--cutoff-seconds", "0"],
            ["verify", reader],
            ["protect", reader, snapshot],
            ["unprotect", reader, snapshot],
            ["owner", reader, "host/h", "someone@pbs"],
            ["ns", "create", reader, "other"],
            ["ns", "remove", reader, "team"],
        ];
        foreach (var args in writing)
        {
            var (code, _, err) = await CliRunner.RunAsync(args);
            Assert.True(code == 1, $"backupfs {string.Join(' ', args)} should refuse on a reader");
            Assert.Contains("is a reader of S3 datastore 'store1'", err);
            Assert.Contains($"'{string.Join(' ', args.TakeWhile(a => a != reader))}' writes to the bucket", err);
        }

        // Reading works.
        Assert.Equal(2, (await CliRunner.RunOkAsync("snapshots", reader)).Trim().Split('\n').Length);
        Assert.Contains("would keep 1, remove 1", await CliRunner.RunOkAsync("prune", reader, "host/h", "--keep-last", "1", "--dry-run"));
        Assert.Equal("root@pam", (await CliRunner.RunOkAsync("owner", reader, "host/h")).Trim());
        await CliRunner.RunOkAsync("restore", reader, snapshot, "root.pxar", _tmp.Sub("restored"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, "b.bin")), File.ReadAllBytes(Path.Combine(_tmp.Sub("restored"), "b.bin")));
        Assert.StartsWith("ok:", await CliRunner.RunOkAsync("s3", "check", reader)); // no write probe on a reader

        Assert.Equal(before.Order(), (await gw.KeysAsync(bucket)).Order());
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(reader, "host", "h")).Length); // nothing removed locally either
    }

    [Fact]
    public async Task BelowTheCommandLineTheBucketClientRefusesEveryWriteBeforeSendingIt()
    {
        var (bucket, _, snapshot) = await WriterWithTwoSnapshotsAsync();
        var reader = NewReader(bucket);
        using var s3 = S3Datastore.Open(reader, new S3OpenOptions { AdoptCachedChunks = false });
        await s3.RefreshAsync();
        var store = s3.ToDataStore();
        var snap = SnapshotRef.Parse(snapshot);
        var before = await gw.KeysAsync(bucket);
        var counts = s3.Client.Counters.Snapshot();

        await AssertRefusedAsync(() => new Pruner(store).ForgetAsync(snap));
        Assert.True(store.GetSnapshotInfo(snap).Finished);
        await AssertRefusedAsync(() => SnapshotProtection.SetAsync(store, snap, true));
        await AssertRefusedAsync(() => GroupOwnership.SetAsync(store, snap.Group, "x@pbs"));
        await AssertRefusedAsync(() => store.CreateNamespaceAsync(BackupNamespace.Parse("n")));
        await AssertRefusedAsync(async () =>
        {
            await using var w = await BackupStarter.BeginAsync(store, BackupGroup.Parse("host/new"));
            var a = w.CreateDynamicArchive("x.pxar.didx", 4096);
            a.Write(RandomBytes(50_000, 3));
            await w.CloseArchiveAsync(a);
            await w.FinishAsync();
        });
        await AssertRefusedAsync(() => new GarbageCollector(store, new GcOptions { AtimeCutoff = TimeSpan.Zero }).RunAsync());
        await AssertRefusedAsync(() => s3.ClaimAsync(overwrite: true));

        var sent = s3.Client.Counters.Snapshot() - counts;
        Assert.Equal(0, sent.Put + sent.Delete + sent.Copy);
        Assert.Equal(before.Order(), (await gw.KeysAsync(bucket)).Order());
    }

    [Fact]
    public async Task InitAndRefreshMakeAReaderAndBack()
    {
        var (bucket, _, _) = await WriterWithTwoSnapshotsAsync();
        var cache = _tmp.Sub("converted");
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", gw.AccessKey);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", gw.SecretKey);
        try
        {
            var created = await CliRunner.RunOkAsync("init", cache, "--s3-endpoint", gw.Endpoint, "--bucket", bucket, "--region", gw.Region,
                "--path-style", "--store-name", "store1", "--save-credentials", "--reader");
            Assert.Contains("reader", created);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", null);
            Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", null);
        }
        await CliRunner.RunOkAsync("s3", "refresh", cache);
        Assert.Equal(1, (await CliRunner.RunAsync("protect", cache, "host/h")).Code);

        await CliRunner.RunOkAsync("s3", "refresh", cache, "--writer");
        await CliRunner.RunOkAsync("protect", cache, "host/h");
        await CliRunner.RunOkAsync("s3", "refresh", cache, "--reader");
        var (code, _, err) = await CliRunner.RunAsync("unprotect", cache, "host/h");
        Assert.Equal(1, code);
        Assert.Contains("reader", err);
    }

    // Refused by the client's guard (possibly wrapped by the operation that tried the write).
    private static async Task AssertRefusedAsync(Func<Task> action)
    {
        var e = await Assert.ThrowsAnyAsync<BackupFsException>(action);
        Assert.Contains("never writes to the bucket", e.ToString());
    }

    private static byte[] RandomBytes(int size, int seed)
    {
        var b = new byte[size];
        new Random(seed).NextBytes(b);
        return b;
    }
}
