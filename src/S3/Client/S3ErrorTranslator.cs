using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Amazon.Runtime;
using Amazon.S3;

namespace BackupFs.S3.Client;

/// <summary>Turns SDK and transport exceptions into one-line <see cref="S3RequestException"/>s that name the cause.</summary>
internal static class S3ErrorTranslator
{
    public static S3RequestException Translate(Exception e, string operation, string? key, string bucket, string endpoint, S3SecretRedactor? redactor = null)
    {
        var translated = TranslateUnredacted(e, operation, key, bucket, endpoint);
        var clean = (redactor ?? S3SecretRedactor.None).Redact(translated.Message);
        if (clean == translated.Message) return translated;
        return translated is S3ConnectionException
            ? new S3ConnectionException(clean, translated.InnerException)
            : new S3RequestException(clean, translated.StatusCode, translated.ErrorCode, translated.IsTransient, translated.InnerException);
    }

    private static S3RequestException TranslateUnredacted(Exception e, string operation, string? key, string bucket, string endpoint)
    {
        if (e is S3RequestException already) return already;
        string what = key == null ? $"{operation} on bucket '{bucket}'" : $"{operation} '{key}'";

        if (e is AmazonServiceException service && service.StatusCode != 0)
        {
            var status = service.StatusCode;
            var code = service.ErrorCode;
            string message = code switch
            {
                "SignatureDoesNotMatch" => $"S3 rejected the credentials at {endpoint}: the secret key does not match the access key (SignatureDoesNotMatch)",
                "InvalidAccessKeyId" => $"S3 rejected the credentials at {endpoint}: the access key is unknown (InvalidAccessKeyId)",
                "NoSuchBucket" => $"S3 bucket '{bucket}' does not exist at {endpoint}",
                "AccessDenied" => $"S3 denied access: {what} (AccessDenied)",
                "QuotaExceeded" => $"S3 quota exceeded: {what} (QuotaExceeded)",
                "SlowDown" => $"S3 is throttling requests: {what} (503 SlowDown)",
                _ when status == HttpStatusCode.NotFound && key == null => $"S3 bucket '{bucket}' does not exist at {endpoint}",
                _ when status == HttpStatusCode.Forbidden => $"S3 denied access: {what} (HTTP 403{(string.IsNullOrEmpty(code) ? "" : " " + code)})",
                _ => $"S3 {what} failed: HTTP {(int)status}{(string.IsNullOrEmpty(code) ? "" : " " + code)}{FirstLine(service.Message)}",
            };
            if (code == "NoSuchBucket" || (status == HttpStatusCode.NotFound && key == null)) code = "NoSuchBucket";
            return new S3RequestException(message, status, code, S3RetryPolicy.IsTransientStatus(status), e);
        }

        var transport = FindTransportCause(e);
        if (transport is AuthenticationException auth)
            return new S3RequestException($"TLS connection to S3 endpoint {endpoint} failed: {FirstLine(auth.Message).TrimStart(':', ' ')} (certificate not trusted or fingerprint mismatch)", null, null, false, e);
        if (transport is SocketException socket)
            return new S3ConnectionException($"cannot reach S3 endpoint {endpoint}: {socket.Message} ({what})", e);
        if (transport != null)
            return new S3ConnectionException($"S3 connection to {endpoint} failed during {what}: {FirstLine(transport.Message).TrimStart(':', ' ')}", e);
        return new S3RequestException($"S3 {what} failed: {FirstLine(e.Message).TrimStart(':', ' ')}", null, null, S3RetryPolicy.IsTransient(e), e);
    }

    private static Exception? FindTransportCause(Exception e)
    {
        Exception? found = null;
        for (var x = e; x != null; x = x.InnerException)
        {
            if (x is AuthenticationException or SocketException) return x;
            if (x is HttpRequestException or IOException && found == null) found = x;
        }
        return found;
    }

    private static string FirstLine(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return "";
        int nl = s.IndexOfAny(['\r', '\n']);
        return ": " + (nl < 0 ? s : s[..nl]).Trim();
    }
}
