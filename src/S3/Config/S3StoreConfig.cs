using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using BackupFs.Datastore.Formats;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Config;

/// <summary>
/// How an S3 datastore reaches its bucket: endpoint (templates {{bucket}} and {{region}}),
/// addressing, region, datastore name (the key prefix), limits and the local cache size.
/// Stored as JSON in the cache directory (<see cref="S3ConfigFiles"/>); never holds secrets.
/// </summary>
public sealed partial record S3StoreConfig
{
    /// <summary>PBS's default when no region is configured.</summary>
    public const string DefaultRegion = "us-west-1";

    /// <summary>e.g. "https://{{bucket}}.s3.{{region}}.amazonaws.com" or "http://127.0.0.1:7480".</summary>
    public required string Endpoint { get; init; }
    public required string Bucket { get; init; }
    /// <summary>The datastore name: prefix of every key, so several stores can share a bucket.</summary>
    public required string StoreName { get; init; }
    // The properties with a default have setters, not init: the generated JSON deserializer (S3ConfigJson)
    // assigns every init-only property, so one a config file leaves out would read as 0 or null instead
    // of its default (dotnet/runtime issue 84484).
    public string Region { get; set; } = DefaultRegion;
    /// <summary>URL path "/&lt;bucket&gt;/&lt;key&gt;" instead of the bucket in the host name.</summary>
    public bool PathStyle { get; init; }
    /// <summary>PUT requests per second (token bucket, burst = rate); null or 0 = unlimited.</summary>
    public double? PutRateLimit { get; init; }
    /// <summary>SHA-256 of the endpoint's leaf certificate (hex, colons optional): accepts a self-signed certificate.</summary>
    public string? Fingerprint { get; init; }
    /// <summary>Deadline of one S3 request, retries and back-off included, seconds ("timeout-seconds"; `--s3-timeout`).</summary>
    public double TimeoutSeconds { get; set; } = DefaultTimeoutSeconds;
    public const double DefaultTimeoutSeconds = 30;
    /// <summary>Cap of one attempt within <see cref="TimeoutSeconds"/>, seconds.</summary>
    public double RequestTimeoutSeconds { get; set; } = 60;
    /// <summary>Attempts per request on transient errors (500/503/504/transport/timeout).</summary>
    public int MaxAttempts { get; set; } = 3;
    /// <summary>Local cache capacity in chunks (full chunk files); null = derived from the cache file system.</summary>
    public long? CacheCapacityChunks { get; init; }
    /// <summary>
    /// This cache store belongs to a reader host (init/refresh --reader): another host (a PBS
    /// server or a BackupFs writer) owns the datastore, and nothing here may write to the bucket.
    /// </summary>
    public bool Reader { get; init; }

    [JsonIgnore] public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);
    [JsonIgnore] public TimeSpan RequestTimeout => TimeSpan.FromSeconds(RequestTimeoutSeconds);

    /// <summary>
    /// The config of `backupfs init STORE --s3-endpoint URL --bucket NAME [--region R] [--path-style]
    /// [--store-name NAME] [--put-rate-limit N]`: the store name defaults to STORE's directory name,
    /// the region to PBS's default.
    /// </summary>
    /// <exception cref="BackupFsException">an argument is invalid</exception>
    public static S3StoreConfig ForInit(string storePath, string endpoint, string bucket, string? region = null, bool pathStyle = false,
        string? storeName = null, double? putRateLimit = null, string? fingerprint = null, long? cacheCapacityChunks = null, bool reader = false,
        double? timeoutSeconds = null)
    {
        var name = storeName ?? Path.GetFileName(Path.GetFullPath(storePath).TrimEnd('/'));
        if (storeName == null && !ContentPathRules.IsSafeId(name))
            throw new BackupFsException($"the directory name '{name}' is not a valid datastore name: give one with --store-name");
        var config = new S3StoreConfig
        {
            Endpoint = endpoint, Bucket = bucket, StoreName = name, Region = region ?? DefaultRegion, PathStyle = pathStyle,
            PutRateLimit = putRateLimit, Fingerprint = fingerprint, CacheCapacityChunks = cacheCapacityChunks, Reader = reader,
            TimeoutSeconds = timeoutSeconds ?? DefaultTimeoutSeconds,
        };
        config.Validate();
        return config;
    }

    /// <exception cref="BackupFsException">a field is invalid (one clear line)</exception>
    public void Validate()
    {
        if (HasUserInfo(Endpoint))
            throw new BackupFsException("the S3 endpoint must not contain credentials (user:password@host): give the keys in the "
                + "secrets file (init --save-credentials), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile");
        if (!Uri.TryCreate(Endpoint.Replace("{{bucket}}", "bucket").Replace("{{region}}", "region"), UriKind.Absolute, out var uri)
            || (uri.Scheme != "http" && uri.Scheme != "https") || string.IsNullOrEmpty(uri.Host))
            throw new BackupFsException($"invalid S3 endpoint '{Client.S3SecretRedactor.RedactUrls(Endpoint)}': expected http(s)://host[:port]");
        if (!IsValidBucketName(Bucket))
            throw new BackupFsException($"invalid bucket name '{Bucket}': 3-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit");
        if (!ContentPathRules.IsSafeId(StoreName))
            throw new BackupFsException($"invalid datastore name '{StoreName}': letters, digits, '_', '.', '-'");
        if (!RegionRegex().IsMatch(Region) || Region.Length > 32)
            throw new BackupFsException($"invalid region '{Region}': lower-case letters, digits, '-' and '_' (or 'auto')");
        if (PutRateLimit is < 0 || double.IsNaN(PutRateLimit ?? 0))
            throw new BackupFsException("the put rate limit must be a positive number of requests per second");
        if (Fingerprint != null) _ = ParseFingerprint(Fingerprint);
        if (!(TimeoutSeconds > 0) || TimeoutSeconds > 86400)
            throw new BackupFsException("the S3 timeout must be more than 0 and at most 86400 seconds");
        if (!(RequestTimeoutSeconds > 0) || RequestTimeoutSeconds > 86400)
            throw new BackupFsException("the S3 request timeout must be more than 0 and at most 86400 seconds");
        if (MaxAttempts is < 1 or > 20) throw new BackupFsException("S3 attempts must be between 1 and 20");
        if (CacheCapacityChunks is < 1) throw new BackupFsException("the cache capacity must be at least one chunk");
    }

    /// <summary>True when the URL's authority has a "user[:password]@" part (even when it does not parse as a URL).</summary>
    public static bool HasUserInfo(string endpoint)
    {
        int scheme = endpoint.IndexOf("://", StringComparison.Ordinal);
        var rest = scheme < 0 ? endpoint : endpoint[(scheme + 3)..];
        int end = rest.IndexOfAny(['/', '?', '#']);
        return (end < 0 ? rest : rest[..end]).Contains('@');
    }

    /// <summary>Bucket naming rules of S3 (as PBS checks them).</summary>
    public static bool IsValidBucketName(string name) =>
        name.Length is >= 3 and <= 63 && BucketRegex().IsMatch(name)
        && !name.StartsWith("xn--", StringComparison.Ordinal) && !name.StartsWith("sthree-", StringComparison.Ordinal)
        && !name.StartsWith("amzn-s3-demo-", StringComparison.Ordinal)
        && !name.EndsWith("--ol-s3", StringComparison.Ordinal) && !name.EndsWith(".mrap", StringComparison.Ordinal)
        && !name.EndsWith("--x-s3", StringComparison.Ordinal);

    /// <summary>32 bytes from "aa:bb:..." or plain hex, any case.</summary>
    public static byte[] ParseFingerprint(string fingerprint)
    {
        var hex = fingerprint.Replace(":", "").Trim();
        if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            throw new BackupFsException("invalid certificate fingerprint: expected the SHA-256 as 32 hex bytes (colons optional)");
        return Convert.FromHexString(hex);
    }

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")] private static partial Regex BucketRegex();
    [GeneratedRegex("^[_a-z0-9][-_a-z0-9]+$")] private static partial Regex RegionRegex();
}
