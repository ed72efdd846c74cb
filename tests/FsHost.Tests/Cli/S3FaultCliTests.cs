using System.Diagnostics;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Config;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>The S3 commands against a black-holed gateway: one "error:" line within --s3-timeout; credentials never echoed.</summary>
/// <remarks>In the "fuse" collection, with every other FsHost test that uses the gateway: S3MountFaultTests freezes it.</remarks>
[Collection("fuse")]
public class S3FaultCliTests : IClassFixture<S3GatewayFixture>, IDisposable
{
    private readonly S3GatewayFixture _gw;
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();

    public S3FaultCliTests(S3GatewayFixture gw, ITestOutputHelper output)
    {
        _gw = gw;
        _output = output;
    }

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task InitRefusesAnEndpointWithCredentialsWithoutEchoingThem()
    {
        var store = _tmp.Sub("creds");
        var (code, _, err) = await CliRunner.RunAsync("init", store, "--s3-endpoint", "http://admin:hunter2-secret@127.0.0.1:7480",
            "--bucket", "b-1", "--path-style");
        Assert.Equal(1, code);
        Assert.StartsWith("error: the S3 endpoint must not contain credentials", err);
        Assert.DoesNotContain("hunter2", err);
        Assert.False(File.Exists(S3ConfigFiles.ConfigPath(store)));
    }

    [Fact]
    public async Task CommandsEndWithOneErrorLineWithinTheTimeoutWhenTheGatewayDoesNotAnswer()
    {
        var bucket = await _gw.NewBucketAsync();
        using var proxy = new TcpFaultProxy(new Uri(_gw.Endpoint));
        var store = _tmp.Sub("store");
        await CliRunner.RunOkAsync("init", store, "--s3-endpoint", proxy.Endpoint, "--bucket", bucket, "--path-style",
            "--region", _gw.Region, "--s3-timeout", "2", "--cache-chunks", "1000");
        Assert.Contains("\"timeout-seconds\": 2", File.ReadAllText(S3ConfigFiles.ConfigPath(store)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(S3ConfigFiles.ConfigPath(store)));
        S3ConfigFiles.SaveSecrets(store, _gw.Credentials);
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "f"), new byte[100_000]);
        await CliRunner.RunOkAsync("s3", "check", store);
        await CliRunner.RunOkAsync("backup", store, src, "--id", "web1");
        var (badCode, _, badErr) = await CliRunner.RunAsync("s3", "check", store, "--s3-timeout", "0");
        Assert.Equal(1, badCode);
        Assert.StartsWith("error: the S3 timeout must be more than 0", badErr);

        proxy.Blackhole = true;
        try
        {
            async Task<string> FailsWithin(double seconds, params string[] args)
            {
                var sw = Stopwatch.StartNew();
                var (code, _, err) = await CliRunner.RunAsync(args).WaitAsync(TimeSpan.FromSeconds(30));
                _output.WriteLine($"backupfs {string.Join(' ', args)}: {sw.Elapsed.TotalSeconds:0.00} s: {err.Trim()}");
                Assert.NotEqual(0, code);
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(seconds) + FaultTiming.Margin, $"took {sw.Elapsed}");
                var errors = err.Split('\n').Where(l => l.StartsWith("error: ")).ToList();
                Assert.Single(errors);
                Assert.DoesNotContain("   at ", err);
                Assert.DoesNotContain(_gw.SecretKey, err);
                return errors[0];
            }
            Assert.Contains("within 2 s", await FailsWithin(2, "s3", "check", store));
            Assert.Contains("within 1 s", await FailsWithin(1, "s3", "check", store, "--s3-timeout", "1"));
            await FailsWithin(1, "s3", "refresh", store, "--s3-timeout", "1");
            await FailsWithin(1, "gc", store, "--s3-timeout", "1", "--no-atime-check");
            await FailsWithin(1, "backup", store, src, "--id", "web2", "--no-cache", "--s3-timeout", "1");
        }
        finally { proxy.Blackhole = false; }
        await CliRunner.RunOkAsync("s3", "check", store);
        Assert.Single(Directory.GetDirectories(Path.Combine(store, "host")));   // web2 left nothing behind
    }
}
