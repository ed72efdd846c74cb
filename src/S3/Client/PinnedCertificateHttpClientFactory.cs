using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Amazon.Runtime;

namespace BackupFs.S3.Client;

/// <summary>
/// HTTP clients for an endpoint with a pinned certificate: the leaf certificate's SHA-256 must
/// equal the configured fingerprint (a self-signed certificate is then accepted, as in PBS);
/// without a pin, normal chain validation applies.
/// </summary>
public sealed class PinnedCertificateHttpClientFactory : HttpClientFactory
{
    private readonly byte[] _fingerprint;

    public PinnedCertificateHttpClientFactory(byte[] sha256Fingerprint)
    {
        if (sha256Fingerprint.Length != 32) throw new ArgumentException("a SHA-256 fingerprint has 32 bytes");
        _fingerprint = sha256Fingerprint;
    }

    public bool Matches(X509Certificate? certificate)
    {
        if (certificate == null) return false;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(certificate.GetRawCertData(), hash);
        return CryptographicOperations.FixedTimeEquals(hash, _fingerprint);
    }

    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            MaxConnectionsPerServer = clientConfig.MaxConnectionsPerServer ?? int.MaxValue,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) => Matches(cert),
            },
        };
        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => true;
    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;
    public override string GetConfigUniqueString(IClientConfig clientConfig) => "pinned:" + Convert.ToHexString(_fingerprint);
}
