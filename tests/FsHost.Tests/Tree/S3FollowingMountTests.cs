using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.S3;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>
/// Two reader mounts (separate backupfs processes, each with its own cache directory) follow one
/// bucket on the real gateway while a writer backs up and prunes: new snapshots appear and pruned
/// ones vanish within the directory cache time, and neither mount ever sends a write request.
/// </summary>
[Collection("fuse")]
public sealed class S3FollowingMountTests : IClassFixture<S3GatewayFixture>, IDisposable
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);
    // The time-to-live, the kernel's 1 s entry cache, and a slow shared machine.
    private static readonly TimeSpan Within = Ttl + TimeSpan.FromSeconds(6);
    private readonly S3GatewayFixture _gw;
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    private readonly List<string> _mounts = [];

    public S3FollowingMountTests(S3GatewayFixture gw, ITestOutputHelper output)
    {
        _gw = gw;
        _output = output;
    }

    public void Dispose()
    {
        foreach (var m in _mounts) BackupFsProgram.UnmountQuietly(m);
        _tmp.Dispose();
    }

    private string Mount(string cache, string name)
    {
        var mnt = _tmp.Sub(name);
        Directory.CreateDirectory(mnt);
        var r = Bounded.Run(BackupFsProgram.Path, "mount", cache, mnt, "--s3-dir-cache-time", Ttl.TotalSeconds.ToString(), "--no-warmup");
        Assert.True(r.ExitCode == 0, r.Stderr);
        _mounts.Add(mnt);
        return mnt;
    }

    private static string[] Snapshots(string mnt) =>
        Bounded.Io(() => Directory.Exists(Path.Combine(mnt, "host", "h"))
            ? Directory.GetDirectories(Path.Combine(mnt, "host", "h")).Select(Path.GetFileName).OfType<string>().Where(n => n != "latest").Order().ToArray()
            : []);

    private static string FollowStats(string mnt)
    {
        var r = Bounded.Run("getfattr", "--only-values", "-n", "user.backupfs.s3-follow", mnt);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Stdout;
    }

    [FuseFact]
    public async Task TwoReaderMountsFollowBackupsAndPrunesOfAWriter()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var bucket = await _gw.NewBucketAsync();
        var writer = _tmp.Sub("writer");
        S3Datastore.Init(writer, _gw.Config(bucket), _gw.Credentials);
        var readers = new[] { _tmp.Sub("reader1"), _tmp.Sub("reader2") };
        foreach (var r in readers) S3Datastore.Init(r, _gw.Config(bucket) with { Reader = true }, _gw.Credentials);
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "file.txt"), "first\n");
        var first = (await CliRunner.RunOkAsync("backup", writer, src, "--type", "host", "--id", "h", "--time", "2025-03-01T00:00:00Z")).Trim();
        var keysBefore = await _gw.KeysAsync(bucket);

        var mounts = readers.Select((r, i) => Mount(r, $"mnt{i}")).ToArray();
        foreach (var m in mounts)
        {
            Assert.Equal(["2025-03-01T00:00:00Z"], Snapshots(m));
            Assert.Equal("first\n", Bounded.Io(() => File.ReadAllText(Path.Combine(m, first, "root.pxar", "file.txt"))));
        }

        File.WriteAllText(Path.Combine(src, "file.txt"), "second\n");
        var second = (await CliRunner.RunOkAsync("backup", writer, src, "--type", "host", "--id", "h", "--time", "2025-03-02T00:00:00Z")).Trim();
        foreach (var m in mounts)
        {
            Assert.True(Bounded.Eventually(() => Snapshots(m).Length == 2, Within), $"{second} did not appear in {m}");
            Assert.Equal("second\n", Bounded.Io(() => File.ReadAllText(Path.Combine(m, "host", "h", "latest", "root.pxar", "file.txt"))));
        }

        await CliRunner.RunOkAsync("prune", writer, "host/h", "--keep-last", "1");
        foreach (var m in mounts)
        {
            Assert.True(Bounded.Eventually(() => Snapshots(m).SequenceEqual(["2025-03-02T00:00:00Z"]), Within), $"{first} did not vanish from {m}");
            // The kernel's cached entry goes with the invalidation the follower sends after it lists: eventually, not at the same instant.
            Assert.True(Bounded.Eventually(() => !Directory.Exists(Path.Combine(m, first)), Within), $"{first} is still found by name in {m}");
        }

        foreach (var m in mounts)
        {
            var stats = FollowStats(m);
            _output.WriteLine($"{m}: {stats}");
            Assert.Contains("writes=0", stats);
            Assert.Matches(@"lists=[1-9]", stats);
        }
        // Everything in the bucket now was written by the writer: the snapshots' keys, nothing else.
        var keysAfter = await _gw.KeysAsync(bucket);
        Assert.DoesNotContain(keysAfter.Except(keysBefore), k => !k.StartsWith("store1/.cnt/host/h/2025-03-02T00:00:00Z/") && !k.StartsWith("store1/.chunks/"));
    }
}
