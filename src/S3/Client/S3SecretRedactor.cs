using System.Text.RegularExpressions;

namespace BackupFs.S3.Client;

/// <summary>
/// Removes secrets from text bound for error messages and logs: user:password in URLs, SigV4
/// signatures and security tokens, and the configured secret key and session token wherever a
/// server or library echoes them.
/// </summary>
public sealed partial class S3SecretRedactor
{
    public const string Mask = "***";
    private readonly string[] _secrets;

    /// <param name="secrets">values never to show (empty ones are ignored)</param>
    public S3SecretRedactor(IEnumerable<string?> secrets) =>
        _secrets = secrets.Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).Distinct().ToArray();

    public static S3SecretRedactor None { get; } = new([]);

    public string Redact(string text)
    {
        var result = RedactUrls(text);
        result = SignatureRegex().Replace(result, m => m.Groups[1].Value + Mask);
        foreach (var secret in _secrets) result = result.Replace(secret, Mask, StringComparison.Ordinal);
        return result;
    }

    /// <summary>"scheme://user:password@host" becomes "scheme://***@host".</summary>
    public static string RedactUrls(string text) => UserInfoRegex().Replace(text, m => m.Groups[1].Value + Mask + "@");

    [GeneratedRegex(@"\b([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@?#]*@")] private static partial Regex UserInfoRegex();
    [GeneratedRegex(@"(?i)\b((?:x-amz-signature|signature|x-amz-security-token|x-amz-credential|credential)\s*[=:]\s*)[^\s,&;""']+")]
    private static partial Regex SignatureRegex();
}
