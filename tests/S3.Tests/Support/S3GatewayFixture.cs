using System.Diagnostics;
using Amazon.S3;
using Amazon.S3.Model;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Client;
using BackupFs.S3.Config;

namespace BackupFs.S3.Tests.Support;

/// <summary>
/// The Ceph RADOS gateway started by scripts/start-s3.sh (idempotent), read from .tmp/s3.env.
/// In CI (CI=true) the env file must already exist: a missing gateway fails loudly instead of
/// being started behind the runner's back.
/// </summary>
public sealed class S3GatewayFixture : IAsyncLifetime
{
    public string Endpoint { get; private set; } = "";
    public string AccessKey { get; private set; } = "";
    public string SecretKey { get; private set; } = "";
    public string Region { get; private set; } = "us-east-1";
    public string? RgwPidFile { get; private set; }
    public S3Credentials Credentials => new(AccessKey, SecretKey, "test env file");

    private AmazonS3Client? _admin;
    public AmazonS3Client Admin => _admin ?? throw new InvalidOperationException("fixture not initialised");

    public static string EnvFile => Path.Combine(TestPaths.RepoRoot, ".tmp", "s3.env");

    public async Task InitializeAsync()
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!File.Exists(EnvFile) && ci)
            throw new InvalidOperationException($"CI=true but the S3 gateway env file {EnvFile} is missing: scripts/test.sh must run scripts/start-s3.sh first");
        await RunStartScriptAsync();
        var env = File.ReadAllLines(EnvFile)
            .Select(l => l.Split('=', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim());
        Endpoint = env["BACKUPFS_S3_ENDPOINT"];
        AccessKey = env["AWS_ACCESS_KEY_ID"];
        SecretKey = env["AWS_SECRET_ACCESS_KEY"];
        Region = env.GetValueOrDefault("BACKUPFS_S3_REGION", "us-east-1");
        RgwPidFile = env.GetValueOrDefault("BACKUPFS_S3_RGW_PIDFILE");
        _admin = S3ClientFactory.CreateSdkClient(Config("admin-bucket"), Credentials);
    }

    private static async Task RunStartScriptAsync()
    {
        var script = Path.Combine(TestPaths.RepoRoot, "scripts", "start-s3.sh");
        var psi = new ProcessStartInfo(script) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot run " + script);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"scripts/start-s3.sh failed ({p.ExitCode}):\n{await stdout}\n{await stderr}");
    }

    /// <summary>A config for a bucket on the gateway (or on another endpoint, e.g. a proxy); <c>timeoutSeconds</c> bounds each request, retries included.</summary>
    public S3StoreConfig Config(string bucket, string? endpoint = null, string store = "store1", double timeoutSeconds = 10, int attempts = 3,
        long? capacity = null) => new()
    {
        Endpoint = endpoint ?? Endpoint,
        Bucket = bucket,
        StoreName = store,
        Region = Region,
        PathStyle = true,
        TimeoutSeconds = timeoutSeconds,            // the deadline of a request, retries included
        RequestTimeoutSeconds = timeoutSeconds,
        MaxAttempts = attempts,
        CacheCapacityChunks = capacity,
    };

    /// <summary>
    /// Creates a fresh bucket so tests never see each other's objects. A bucket create the gateway
    /// answers with a bare 400 (no error code, no body) is tried again: radosgw did so once in a CI
    /// run, for the first bucket after minutes idle, while 171 later creates succeeded. It is the
    /// fixture's set-up, not what a test checks, so a second try is what a user would do too.
    /// </summary>
    public async Task<string> NewBucketAsync()
    {
        var name = "t-" + Guid.NewGuid().ToString("N")[..20];
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await Admin.PutBucketAsync(new PutBucketRequest { BucketName = name });
                return name;
            }
            catch (AmazonS3Exception e) when (attempt < 4 && IsBareGatewayRefusal(e))
            {
                Console.Error.WriteLine($"S3 fixture: creating bucket {name} got {(int)e.StatusCode} without an error code (attempt {attempt}); trying again");
                await Task.Delay(250 * attempt);
            }
        }
    }

    private static bool IsBareGatewayRefusal(AmazonS3Exception e) =>
        (e.StatusCode == System.Net.HttpStatusCode.BadRequest && (string.IsNullOrEmpty(e.ErrorCode) || e.ErrorCode == "BadRequest"))
        || (int)e.StatusCode >= 500;

    public S3ObjectClient Client(string bucket, string? endpoint = null, double timeoutSeconds = 10, int attempts = 3, S3Credentials? credentials = null) =>
        S3ClientFactory.Create(Config(bucket, endpoint, timeoutSeconds: timeoutSeconds, attempts: attempts), credentials ?? Credentials,
            retryBaseDelay: TimeSpan.FromMilliseconds(50));

    /// <summary>
    /// Waits until the client's circuit breaker has closed again after a fault was cleared (its
    /// background probe got an answer): until then requests fail at once by design.
    /// </summary>
    public static async Task UntilAnsweringAsync(S3ObjectClient client)
    {
        var sw = Stopwatch.StartNew();
        while (client.Breaker is { IsOpen: true })
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20)) throw new TimeoutException("the S3 circuit breaker did not close within 20 s");
            await Task.Delay(50);
        }
    }

    public async Task<List<string>> KeysAsync(string bucket, string prefix = "")
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await Admin.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (token != null);
        return keys;
    }

    public Task DisposeAsync()
    {
        _admin?.Dispose();
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class S3GatewayCollection : ICollectionFixture<S3GatewayFixture>
{
    public const string Name = "S3 gateway";
}
