namespace BackupFs.S3.Config;

/// <summary>An access key pair. ToString never shows the secret.</summary>
public sealed class S3Credentials
{
    public string AccessKey { get; }
    public string SecretKey { get; }
    public string? SessionToken { get; }
    /// <summary>Where the keys came from (for messages): "secrets file", "environment", "profile 'x'".</summary>
    public string Source { get; }

    public S3Credentials(string accessKey, string secretKey, string source, string? sessionToken = null)
    {
        if (string.IsNullOrWhiteSpace(accessKey) || string.IsNullOrEmpty(secretKey))
            throw new ArgumentException("an access key and a secret key are required");
        AccessKey = accessKey;
        SecretKey = secretKey;
        Source = source;
        SessionToken = string.IsNullOrEmpty(sessionToken) ? null : sessionToken;
    }

    public override string ToString() => $"access key {AccessKey} (from {Source})";
}
