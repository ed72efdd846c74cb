using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>
/// The program users run, as a separate process: in Release it is the native (ahead-of-time
/// compiled) build, where code that needs run-time reflection or code generation fails only when
/// it runs. Each path (local store, S3 bucket, mount, staging and commit) is driven through it once.
/// </summary>
[Collection("fuse")]
public sealed class ShippedProgramTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose()
    {
        BackupFsProgram.UnmountQuietly(_tmp.Sub("mnt"));
        _tmp.Dispose();
    }

    [Fact]
    public void TheReleaseBuildIsTheNativeProgram()
    {
        if (!AppContext.BaseDirectory.Contains("/bin/Release/", StringComparison.Ordinal)) return;
        // The .NET launcher loads the runtime through libhostfxr; the native program has no runtime to load.
        var image = File.ReadAllBytes(BackupFsProgram.Path);
        Assert.True(image.AsSpan().IndexOf("libhostfxr.so"u8) < 0, $"{BackupFsProgram.Path} is the .NET launcher, not the native program");
        Assert.Contains("commit", BackupFsProgram.RunOk("--help").Stdout);
    }

    [FuseFact]
    public void A_local_store_is_backed_up_mounted_staged_and_committed_through_the_program()
    {
        if (!FuseEnvironment.Usable(output)) return;
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        var big = RandomBytes(3_000_000, 1);
        File.WriteAllBytes(Path.Combine(src, "sub", "big.bin"), big);
        File.WriteAllText(Path.Combine(src, "note.txt"), "hello");
        BackupFsProgram.RunOk("init", store);
        var first = BackupFsProgram.RunOk("backup", store, src, "--type", "host", "--id", "web1").Stdout.Trim();
        Assert.StartsWith("host/web1/", first);

        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        BackupFsProgram.RunOk("mount", store, mnt, "--commit-delay", "3600");
        Assert.Equal(big, Bounded.Io(() => File.ReadAllBytes(Path.Combine(mnt, "host/web1/latest/root.pxar/sub/big.bin"))));

        var session = Path.Combine(mnt, "staging/host/web1");
        Bounded.Io(() => File.WriteAllText(Path.Combine(session, "added.txt"), "staged"));
        var committed = BackupFsProgram.RunOk("commit", session).Stdout.Trim();
        Assert.StartsWith("host/web1/", committed);
        Assert.NotEqual(first, committed);
        Assert.Equal("staged", Bounded.Io(() => File.ReadAllText(Path.Combine(mnt, committed, "root.pxar/added.txt"))));
        Assert.Equal(big, Bounded.Io(() => File.ReadAllBytes(Path.Combine(mnt, committed, "root.pxar/sub/big.bin"))));
        BackupFsProgram.RunOk("umount", mnt);

        Assert.Contains(committed, BackupFsProgram.RunOk("snapshots", store).Stdout);
        BackupFsProgram.RunOk("verify", store); // every chunk of both snapshots read back and its digest checked
    }

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }
}

/// <summary>The program against the S3 gateway: config files, credentials, signed requests, the bucket client.</summary>
public sealed class ShippedProgramS3Tests(S3GatewayFixture gw) : IClassFixture<S3GatewayFixture>, IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task An_S3_store_is_set_up_checked_backed_up_and_restored_through_the_program()
    {
        var bucket = await gw.NewBucketAsync();
        var store = _tmp.Sub("cache");
        BackupFsProgram.RunOk("init", store, "--s3-endpoint", gw.Endpoint, "--bucket", bucket, "--path-style",
            "--region", gw.Region, "--cache-chunks", "1000");
        S3.Config.S3ConfigFiles.SaveSecrets(store, gw.Credentials);
        Assert.Contains("\"path-style\": true", File.ReadAllText(S3.Config.S3ConfigFiles.ConfigPath(store)));

        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        var data = new byte[2_000_000];
        new Random(7).NextBytes(data);
        File.WriteAllBytes(Path.Combine(src, "f.bin"), data);
        BackupFsProgram.RunOk("s3", "check", store);
        BackupFsProgram.RunOk("backup", store, src, "--type", "host", "--id", "s3");
        var snapshot = BackupFsProgram.RunOk("snapshots", store).Stdout.Split(' ', '\n')[0];
        Assert.StartsWith("host/s3/", snapshot);
        Assert.Contains(await gw.KeysAsync(bucket), k => k.Contains("/.chunks/", StringComparison.Ordinal));

        var restored = _tmp.Sub("restored");
        BackupFsProgram.RunOk("restore", store, snapshot, "root.pxar", restored);
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(restored, "f.bin")));
    }
}
