using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BackupFs.S3.Tests.Support;

/// <summary>
/// An HTTPS front for the plain-HTTP gateway with a fresh self-signed certificate, to test
/// certificate fingerprint pinning.
/// </summary>
public sealed class TlsTerminatingProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _upstreamPort;
    private readonly CancellationTokenSource _stop = new();

    public X509Certificate2 Certificate { get; }
    public string Endpoint => $"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
    /// <summary>SHA-256 of the certificate, colon-separated hex as PBS shows it.</summary>
    public string Fingerprint => string.Join(':', SHA256.HashData(Certificate.RawData).Select(b => b.ToString("X2")));

    public TlsTerminatingProxy(Uri upstream)
    {
        _upstreamPort = upstream.Port;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=backupfs-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        Certificate = X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch { return; }
            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        using var _ = client;
        using var upstream = new TcpClient();
        try
        {
            using var tls = new SslStream(client.GetStream());
            await tls.AuthenticateAsServerAsync(Certificate);
            await upstream.ConnectAsync(IPAddress.Loopback, _upstreamPort);
            var up = upstream.GetStream();
            await Task.WhenAny(tls.CopyToAsync(up, _stop.Token), up.CopyToAsync(tls, _stop.Token));
        }
        catch { }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        Certificate.Dispose();
    }
}
