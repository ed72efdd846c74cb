using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Config;

/// <summary>
/// Finds the keys of an S3 datastore: its secrets file first, then the standard AWS sources
/// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN], then the shared credentials
/// profile AWS_PROFILE or "default", from AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials). Instance metadata services are not asked: they hang off-cloud.
/// </summary>
public static class S3CredentialResolver
{
    /// <exception cref="BackupFsException">no credentials anywhere, or an unsafe secrets file</exception>
    public static S3Credentials Resolve(string? cacheRoot)
    {
        if (cacheRoot != null && S3ConfigFiles.LoadSecrets(cacheRoot) is { } fromFile) return fromFile;

        var ak = Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");
        var sk = Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        if (!string.IsNullOrWhiteSpace(ak) && !string.IsNullOrEmpty(sk))
            return new S3Credentials(ak, sk, "environment", Environment.GetEnvironmentVariable("AWS_SESSION_TOKEN"));

        var profile = Environment.GetEnvironmentVariable("AWS_PROFILE");
        if (string.IsNullOrEmpty(profile)) profile = "default";
        try
        {
            var location = Environment.GetEnvironmentVariable("AWS_SHARED_CREDENTIALS_FILE");
            var chain = string.IsNullOrEmpty(location) ? new CredentialProfileStoreChain() : new CredentialProfileStoreChain(location);
            if (chain.TryGetAWSCredentials(profile, out AWSCredentials creds))
            {
                var immutable = creds.GetCredentials();
                if (!string.IsNullOrEmpty(immutable.AccessKey) && !string.IsNullOrEmpty(immutable.SecretKey))
                    return new S3Credentials(immutable.AccessKey, immutable.SecretKey, $"profile '{profile}'", immutable.Token);
            }
        }
        catch (Exception e) when (e is AmazonClientException or IOException or InvalidOperationException)
        {
            throw new BackupFsException($"cannot read AWS profile '{profile}': {e.Message}", e);
        }
        throw new BackupFsException("no S3 credentials: none in the datastore's secrets file, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or an AWS profile");
    }
}
