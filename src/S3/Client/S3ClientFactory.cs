using Amazon.Runtime;
using Amazon.S3;
using BackupFs.S3.Config;

namespace BackupFs.S3.Client;

/// <summary>Builds the SDK client and the <see cref="S3ObjectClient"/> for a <see cref="S3StoreConfig"/>.</summary>
public static class S3ClientFactory
{
    /// <summary>
    /// The endpoint URL given to the SDK: {{region}} replaced; with path-style, {{bucket}} replaced
    /// by the bucket; with virtual-host style, a leading "{{bucket}}." is dropped because the SDK
    /// puts the bucket in front of the host itself.
    /// </summary>
    public static string ResolveServiceUrl(S3StoreConfig config)
    {
        var url = config.Endpoint.Replace("{{region}}", config.Region, StringComparison.Ordinal);
        url = config.PathStyle
            ? url.Replace("{{bucket}}", config.Bucket, StringComparison.Ordinal)
            : url.Replace("{{bucket}}.", "", StringComparison.Ordinal).Replace("{{bucket}}", config.Bucket, StringComparison.Ordinal);
        return url.TrimEnd('/');
    }

    public static AmazonS3Config CreateSdkConfig(S3StoreConfig config)
    {
        config.Validate();
        var sdk = new AmazonS3Config
        {
            ServiceURL = ResolveServiceUrl(config),
            ForcePathStyle = config.PathStyle,
            AuthenticationRegion = config.Region,
            // The gateway rejects the SDK's default flexible checksums with aws-chunked trailers.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // Retries and deadlines are ours (S3ObjectClient): the SDK's Timeout is not a reliable deadline.
            MaxErrorRetry = 0,
            Timeout = (config.Timeout < config.RequestTimeout ? config.Timeout : config.RequestTimeout) + TimeSpan.FromSeconds(5),
        };
        if (config.Fingerprint != null)
            sdk.HttpClientFactory = new PinnedCertificateHttpClientFactory(S3StoreConfig.ParseFingerprint(config.Fingerprint));
        return sdk;
    }

    public static AmazonS3Client CreateSdkClient(S3StoreConfig config, S3Credentials credentials)
    {
        AWSCredentials creds = credentials.SessionToken == null
            ? new BasicAWSCredentials(credentials.AccessKey, credentials.SecretKey)
            : new SessionAWSCredentials(credentials.AccessKey, credentials.SecretKey, credentials.SessionToken);
        return new AmazonS3Client(creds, CreateSdkConfig(config));
    }

    /// <param name="log">sink of the circuit breaker's outage lines (stopped answering, answers again); null = silent</param>
    public static S3ObjectClient Create(S3StoreConfig config, S3Credentials credentials, TimeSpan? retryBaseDelay = null, Action<string>? log = null)
    {
        var sdk = CreateSdkClient(config, credentials);
        var options = new S3ObjectClientOptions
        {
            Timeout = config.Timeout,
            RequestTimeout = config.RequestTimeout,
            Log = log,
            Redactor = new S3SecretRedactor([credentials.SecretKey, credentials.SessionToken]),
            Retry = new S3RetryPolicy(config.MaxAttempts, retryBaseDelay),
            PutRateLimiter = config.PutRateLimit is > 0 ? new PutRateLimiter(config.PutRateLimit.Value) : null,
        };
        return new S3ObjectClient(sdk, config.Bucket, ResolveServiceUrl(config), options, ownsClient: true);
    }
}
