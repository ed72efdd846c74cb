using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tests.Tree;
using BackupFs.S3;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Staging on an S3-backed datastore: rsync into the mount, commit, and only changed data goes to the bucket (real gateway).</summary>
[Collection("fuse")]
public class S3StagingTests : IClassFixture<S3GatewayFixture>, IDisposable
{
    private readonly S3GatewayFixture _gw;
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();

    public S3StagingTests(S3GatewayFixture gw, ITestOutputHelper output)
    {
        _gw = gw;
        _output = output;
    }

    public void Dispose() => _tmp.Dispose();

    [FuseFact]
    public async Task RsyncIntoAnS3StoreUploadsOnlyWhatChanged()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var bucket = await _gw.NewBucketAsync();
        var cache = _tmp.Sub("cache");
        S3Datastore.Init(cache, _gw.Config(bucket), _gw.Credentials);
        using var s3 = S3Datastore.Open(cache);
        var store = s3.ToDataStore();
        var src = _tmp.Sub("src");
        var rng = new Random(9);
        for (int i = 0; i < 40; i++)
        {
            Directory.CreateDirectory(Path.Combine(src, $"d{i % 4}"));
            var data = new byte[i == 0 ? 3_000_000 : 2000 + i * 101];
            rng.NextBytes(data);
            File.WriteAllBytes(Path.Combine(src, $"d{i % 4}", $"f{i:00}"), data);
        }

        using var mount = new DatastoreMount(store, staging: new StagingOptions { CommitDelay = TimeSpan.FromHours(1) });
        var session = mount.PathOf("staging/host/s3web");
        var rsync = Bounded.Run("rsync", "-a", "--delete", src + "/", session + "/");
        Assert.True(rsync.ExitCode == 0, rsync.Stderr);
        var first = (await CliRunner.RunOkAsync("commit", session)).Trim();
        var chunksAfterFirst = await _gw.KeysAsync(bucket, "store1/.chunks/");
        Assert.NotEmpty(chunksAfterFirst);
        Assert.Contains($"store1/.cnt/{first}/index.json.blob", await _gw.KeysAsync(bucket, $"store1/.cnt/{first}/"));

        File.AppendAllText(Path.Combine(src, "d1", "f05"), "changed\n");
        rsync = Bounded.Run("rsync", "-a", "--delete", src + "/", session + "/");
        Assert.True(rsync.ExitCode == 0, rsync.Stderr);
        var before = s3.Client.Counters.Snapshot();
        var second = (await CliRunner.RunOkAsync("commit", session)).Trim();
        var added = (await _gw.KeysAsync(bucket, "store1/.chunks/")).Except(chunksAfterFirst).ToList();
        // The changed file's payload chunk and the new metadata stream; the 3 MB file is not uploaded again.
        Assert.InRange(added.Count, 1, 5); // the changed file, the payload tail, the metadata stream: not the 3 MB file
        long puts = (s3.Client.Counters.Snapshot() - before).Put;
        Assert.True(puts <= added.Count + 4, $"{puts} PUTs for {added.Count} new chunks");
        Assert.NotEqual(first, second);
        var dry = Bounded.Run("rsync", "-a", "--dry-run", "--itemize-changes", src + "/", mount.PathOf(second + "/root.pxar") + "/");
        Assert.Equal("", dry.Stdout.Trim());
        Assert.Equal(SnapshotRef.Parse(second), store.LatestSnapshot(BackupGroup.Parse("host/s3web")));
    }
}
