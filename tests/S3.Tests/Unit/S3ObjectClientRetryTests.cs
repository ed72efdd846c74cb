using BackupFs.S3.Client;
using BackupFs.S3.Config;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Unit;

/// <summary>Retry and error behaviour against an in-process fake server (statuses injected deterministically).</summary>
public class S3ObjectClientRetryTests
{
    private static S3ObjectClient ClientFor(FakeS3Server server, int attempts = 3, double timeout = 5) =>
        S3ClientFactory.Create(new S3StoreConfig
        {
            Endpoint = server.Endpoint, Bucket = "bucket", StoreName = "store1", Region = "us-east-1",
            PathStyle = true, MaxAttempts = attempts, RequestTimeoutSeconds = timeout,
        }, new S3Credentials("AK", "SK", "test"), retryBaseDelay: TimeSpan.FromMilliseconds(20));

    [Fact]
    public async Task SlowDownIsRetriedUntilItSucceeds()
    {
        using var server = new FakeS3Server((n, _) => n <= 2 ? (503, FakeS3Server.Error("SlowDown", "Please reduce your request rate.")) : (200, ""));
        using var client = ClientFor(server);
        Assert.True(await client.PutAsync("store1/.chunks/x", new byte[] { 1, 2, 3 }, noReplace: true));
        Assert.Equal(3, server.Requests);
        Assert.Equal(3, client.Counters.Snapshot().Put);
    }

    [Fact]
    public async Task PersistentSlowDownGivesUpWithAClearError()
    {
        using var server = new FakeS3Server((_, _) => (503, FakeS3Server.Error("SlowDown", "Please reduce your request rate.")));
        using var client = ClientFor(server, attempts: 3);
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.GetAsync("store1/k"));
        Assert.Equal("SlowDown", e.ErrorCode);
        Assert.Contains("SlowDown", e.Message);
        Assert.Contains("after 3 attempts", e.Message);
        Assert.Equal(3, server.Requests);
    }

    [Theory]
    [InlineData(500, "InternalError")]
    [InlineData(504, "GatewayTimeout")]
    public async Task ServerErrorsAreRetried(int status, string code)
    {
        using var server = new FakeS3Server((n, _) => n == 1 ? (status, FakeS3Server.Error(code, "transient")) : (200, ""));
        using var client = ClientFor(server);
        await client.DeleteAsync("store1/k");
        Assert.Equal(2, server.Requests);
    }

    [Fact]
    public async Task ClientErrorsAreNotRetried()
    {
        using var server = new FakeS3Server((_, _) => (403, FakeS3Server.Error("AccessDenied", "Access Denied")));
        using var client = ClientFor(server);
        var e = await Assert.ThrowsAsync<S3RequestException>(() => client.PutAsync("store1/k", new byte[] { 1 }, noReplace: false));
        Assert.Equal(1, server.Requests);
        Assert.Contains("denied", e.Message);
        Assert.DoesNotContain("SK", e.Message);
    }

    [Fact]
    public async Task PreconditionFailedOnPutIfAbsentMeansAlreadyThere()
    {
        using var server = new FakeS3Server((_, r) => r.Headers["If-None-Match"] == "*"
            ? (412, FakeS3Server.Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"))
            : (200, ""));
        using var client = ClientFor(server);
        Assert.False(await client.PutAsync("store1/.chunks/x", new byte[] { 1 }, noReplace: true));
        Assert.True(await client.PutAsync("store1/.cnt/vm/100/owner", new byte[] { 1 }, noReplace: false));
        Assert.Equal(2, server.Requests);
    }

    [Fact]
    public async Task ConnectionRefusedIsOneClearLine()
    {
        int port;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { l.Start(); port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port; }
        using var client = S3ClientFactory.Create(new S3StoreConfig
        {
            Endpoint = $"http://127.0.0.1:{port}", Bucket = "bucket", StoreName = "s", Region = "us-east-1", PathStyle = true, MaxAttempts = 2,
        }, new S3Credentials("AK", "SK", "test"), TimeSpan.FromMilliseconds(10));
        var e = await Assert.ThrowsAnyAsync<S3RequestException>(() => client.HeadBucketAsync());
        Assert.Contains($"cannot reach S3 endpoint http://127.0.0.1:{port}", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.True(e.IsTransient);
    }

    [Fact]
    public void TheConfigWiresLimitsIntoTheClient()
    {
        var config = new S3StoreConfig
        {
            Endpoint = "http://127.0.0.1:1", Bucket = "bucket", StoreName = "s", PutRateLimit = 25, MaxAttempts = 5, RequestTimeoutSeconds = 7,
        };
        using var limited = S3ClientFactory.Create(config, new S3Credentials("AK", "SK", "test"));
        Assert.Equal(25, limited.PutRequestsPerSecond);
        Assert.Equal(5, limited.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(7), limited.RequestTimeout);
        using var unlimited = S3ClientFactory.Create(config with { PutRateLimit = null }, new S3Credentials("AK", "SK", "test"));
        Assert.Null(unlimited.PutRequestsPerSecond);
    }
}
