using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;

namespace BackupFs.S3.Client;

/// <summary>
/// When to retry an S3 request and how long to wait: transport errors, timeouts and HTTP
/// 500/503 (SlowDown)/504 are transient, as is 409 on a conditional PUT racing another writer
/// (PBS retries those too); client errors (403, 404, 400, 412) are final.
/// Back-off: BaseDelay × 3^(attempt-1) with ±25 % jitter (PBS uses 1 s, 3 s).
/// </summary>
public sealed class S3RetryPolicy
{
    public int MaxAttempts { get; }
    public TimeSpan BaseDelay { get; }

    public S3RetryPolicy(int maxAttempts = 3, TimeSpan? baseDelay = null)
    {
        if (maxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(maxAttempts));
        MaxAttempts = maxAttempts;
        BaseDelay = baseDelay ?? TimeSpan.FromSeconds(1);
    }

    /// <summary>Wait before attempt number <paramref name="nextAttempt"/> (2, 3, ...).</summary>
    public TimeSpan DelayBefore(int nextAttempt)
    {
        double factor = Math.Pow(3, Math.Max(0, nextAttempt - 2));
        double jitter = 0.75 + Random.Shared.NextDouble() * 0.5;
        return TimeSpan.FromMilliseconds(BaseDelay.TotalMilliseconds * factor * jitter);
    }

    public static bool IsTransient(Exception e) => e switch
    {
        S3RequestException s => s.IsTransient,
        AmazonServiceException s when s.StatusCode != 0 => IsTransientStatus(s.StatusCode),
        TimeoutException or HttpRequestException or IOException or SocketException => true,
        AmazonClientException { InnerException: { } inner } => IsTransient(inner),
        _ => false,
    };

    public static bool IsTransientStatus(HttpStatusCode status) =>
        status is HttpStatusCode.InternalServerError or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout
            or HttpStatusCode.BadGateway or HttpStatusCode.Conflict or HttpStatusCode.RequestTimeout
            or (HttpStatusCode)429;
}
