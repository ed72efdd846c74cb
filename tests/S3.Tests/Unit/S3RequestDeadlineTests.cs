using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BackupFs.S3.Client;
using BackupFs.S3.Config;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Unit;

/// <summary>One deadline per request, retries and rate-limit waits included (in-process fake server and dead ports).</summary>
public class S3RequestDeadlineTests
{
    private static S3StoreConfig Config(string endpoint, double timeout, int attempts, double? putRate = null) => new()
    {
        Endpoint = endpoint, Bucket = "bucket", StoreName = "store1", Region = "us-east-1", PathStyle = true,
        TimeoutSeconds = timeout, MaxAttempts = attempts, PutRateLimit = putRate,
    };

    private static readonly S3Credentials Keys = new("AK", "SECRETKEY-never-shown", "test");

    /// <summary>The SDK's first calls in a process cost a second or more of start-up (JIT): pay it outside the measured budget.</summary>
    private static async Task WarmUpAsync(FakeS3Server server)
    {
        using var warm = S3ClientFactory.Create(Config(server.Endpoint, timeout: 60, attempts: 1), Keys);
        await warm.DeleteAsync("store1/warm-up");
    }

    [Fact]
    public async Task RetriesStopWhenTheRequestDeadlineHasNoRoomLeft()
    {
        using var server = new FakeS3Server((n, _) => n == 1 ? (200, "") : (503, FakeS3Server.Error("SlowDown", "Please reduce your request rate.")));
        using var client = S3ClientFactory.Create(Config(server.Endpoint, timeout: 1.5, attempts: 20), Keys, retryBaseDelay: TimeSpan.FromMilliseconds(200));
        await WarmUpAsync(server);
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.GetAsync("store1/k"));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2.5), $"took {sw.Elapsed}");
        Assert.Equal("SlowDown", e.ErrorCode);
        // Back-offs of 200 ms, 600 ms, 1.8 s: the third never fits in 1.5 s. How many fit before depends on
        // how long each answer took (a loaded machine may leave room for one only); never more than 5.
        int served = server.Requests - 1;
        Assert.InRange(served, 1, 5);
        // The message counts the client's attempts; one cut short by the deadline may or may not have reached the server.
        var said = System.Text.RegularExpressions.Regex.Match(e.Message, @"after (\d+) attempts");
        int attempts = said.Success ? int.Parse(said.Groups[1].Value) : 1;
        Assert.InRange(attempts, Math.Max(1, served - 1), served + 1);
        Assert.False(client.Breaker!.IsOpen);                    // the server answered: no network fault
    }

    [Fact]
    public async Task RateLimitWaitsOfRetriesCountAgainstTheDeadline()
    {
        using var server = new FakeS3Server((n, _) => n == 1 ? (200, "") : (503, FakeS3Server.Error("SlowDown", "Please reduce your request rate.")));
        using var client = S3ClientFactory.Create(Config(server.Endpoint, timeout: 1, attempts: 20, putRate: 2), Keys, retryBaseDelay: TimeSpan.FromMilliseconds(10));
        await WarmUpAsync(server);
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.PutAsync("store1/k", new byte[] { 1 }, noReplace: false));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"took {sw.Elapsed}");
        Assert.Equal("SlowDown", e.ErrorCode);
        Assert.InRange(server.Requests - 1, 1, 4);              // 2 PUTs per second, so at most a few tries in 1 s
        Assert.False(client.Breaker!.IsOpen);
    }

    [Fact]
    public async Task ARefusedConnectionOpensTheBreakerAndLaterRequestsFailAtOnce()
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
        using var client = S3ClientFactory.Create(Config($"http://127.0.0.1:{port}", timeout: 5, attempts: 3), Keys,
            retryBaseDelay: TimeSpan.FromMilliseconds(20), log: _ => { });
        var first = await Assert.ThrowsAsync<S3ConnectionException>(() => client.GetAsync("store1/a"));
        Assert.Contains("fail at once until the endpoint answers again", first.Message);
        Assert.True(client.Breaker!.IsOpen);

        var sw = Stopwatch.StartNew();
        var second = await Assert.ThrowsAsync<S3UnavailableException>(() => client.PutAsync("store1/b", new byte[] { 1 }, noReplace: true));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"took {sw.Elapsed}");
        Assert.Contains("was not sent", second.Message);
        Assert.DoesNotContain("SECRETKEY", second.Message + first.Message);
    }

    [Fact]
    public async Task ASilentServerGivesATimeoutAtTheRequestDeadlineNotPerAttempt()
    {
        // Accepts connections and never answers (a hung gateway).
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(100);
        int port = ((IPEndPoint)silent.LocalEndpoint).Port;
        using var client = S3ClientFactory.Create(Config($"http://127.0.0.1:{port}", timeout: 2, attempts: 10) with { RequestTimeoutSeconds = 0.5 },
            Keys, retryBaseDelay: TimeSpan.FromMilliseconds(20), log: _ => { });
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<S3TimeoutException>(() => client.GetAsync("store1/a"));
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.9, 2 + 1.5);   // several attempts of 0.5 s, all within the 2 s budget
        Assert.Contains("attempts", e.Message);                  // retried after the attempt cap, not only at the deadline
        Assert.True(client.Breaker!.IsOpen);
    }
}
