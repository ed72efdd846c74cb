using System.Net;
using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Client;

/// <summary>An S3 request failed; the message is one clear line without secrets.</summary>
public class S3RequestException : BackendException
{
    /// <summary>HTTP status when the server answered; null for transport errors and timeouts.</summary>
    public HttpStatusCode? StatusCode { get; }
    /// <summary>S3 error code such as "NoSuchBucket" or "SignatureDoesNotMatch".</summary>
    public string? ErrorCode { get; }
    /// <summary>True when retrying later may succeed (5xx, transport, timeout).</summary>
    public bool IsTransient { get; }

    public S3RequestException(string message, HttpStatusCode? statusCode, string? errorCode, bool isTransient, Exception? inner = null)
        : base(message, inner)
    {
        StatusCode = statusCode;
        ErrorCode = errorCode;
        IsTransient = isTransient;
    }
}

/// <summary>An S3 request got no answer within its deadline.</summary>
public sealed class S3TimeoutException : S3RequestException, IBackendUnreachable
{
    public TimeSpan Deadline { get; }
    public S3TimeoutException(string message, TimeSpan deadline, Exception? inner = null)
        : base(message, null, null, isTransient: true, inner) => Deadline = deadline;
}

/// <summary>
/// Not sent: the endpoint stopped answering a moment ago (<see cref="S3CircuitBreaker"/>), so the
/// request fails at once instead of waiting for another deadline. Repeats a failure already reported.
/// </summary>
public sealed class S3UnavailableException : S3RequestException, IBackendUnreachable
{
    public S3UnavailableException(string message, Exception? inner = null)
        : base(message, null, null, isTransient: true, inner) { }
}

/// <summary>The connection to the endpoint failed (refused, reset, closed) before an HTTP answer came.</summary>
public sealed class S3ConnectionException : S3RequestException, IBackendUnreachable
{
    public S3ConnectionException(string message, Exception? inner = null)
        : base(message, null, null, isTransient: true, inner) { }
}
