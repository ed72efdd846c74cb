using BackupFs.S3.Client;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

[Collection(S3GatewayCollection.Name)]
public class S3EndpointSecurityTests(S3GatewayFixture gw)
{
    private S3ObjectClient TlsClient(TlsTerminatingProxy proxy, string bucket, string? fingerprint) =>
        S3ClientFactory.Create(gw.Config(bucket, proxy.Endpoint, attempts: 1) with { Fingerprint = fingerprint }, gw.Credentials);

    [Fact]
    public async Task APinnedFingerprintAcceptsTheSelfSignedEndpoint()
    {
        var bucket = await gw.NewBucketAsync();
        using var proxy = new TlsTerminatingProxy(new Uri(gw.Endpoint));
        using var client = TlsClient(proxy, bucket, proxy.Fingerprint);
        Assert.True(await client.PutAsync("s/k", "tls"u8.ToArray(), noReplace: true));
        Assert.Equal("tls"u8.ToArray(), await client.GetAsync("s/k"));
    }

    [Fact]
    public async Task AWrongOrMissingPinIsRefusedWithAClearLine()
    {
        var bucket = await gw.NewBucketAsync();
        using var proxy = new TlsTerminatingProxy(new Uri(gw.Endpoint));
        using (var wrong = TlsClient(proxy, bucket, new string('a', 64)))
        {
            var e = await Assert.ThrowsAsync<S3RequestException>(() => wrong.GetAsync("s/k"));
            Assert.Contains("TLS connection", e.Message);
            Assert.False(e.IsTransient);
        }
        using (var unpinned = TlsClient(proxy, bucket, null))
        {
            var e = await Assert.ThrowsAsync<S3RequestException>(() => unpinned.GetAsync("s/k"));
            Assert.Contains("TLS connection", e.Message);
        }
    }
}
