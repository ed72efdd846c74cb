using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Client;
using BackupFs.S3.Config;

namespace BackupFs.S3.Tests.Unit;

public class S3ConfigTests
{
    private static S3StoreConfig Valid => new()
    {
        Endpoint = "https://{{bucket}}.s3.{{region}}.example.com",
        Bucket = "my-bucket",
        StoreName = "store1",
        Region = "eu-central-1",
    };

    [Fact]
    public void ConfigRoundTripsThroughItsJsonFileWithoutSecrets()
    {
        using var dir = new TempDir();
        var config = Valid with { PathStyle = true, PutRateLimit = 25, Fingerprint = new string('a', 64), CacheCapacityChunks = 1000 };
        S3ConfigFiles.SaveConfig(dir.Path, config);
        Assert.True(S3ConfigFiles.IsS3Datastore(dir.Path));
        var text = File.ReadAllText(S3ConfigFiles.ConfigPath(dir.Path));
        Assert.Contains("\"path-style\": true", text);
        Assert.DoesNotContain("secret", text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(config, S3ConfigFiles.LoadConfig(dir.Path));
    }

    [Fact]
    public void MissingOrBrokenConfigGivesAClearError()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<BackupFsException>(() => S3ConfigFiles.LoadConfig(dir.Path));
        Assert.Contains("not an S3 datastore", e.Message);
        Directory.CreateDirectory(Path.Combine(dir.Path, ".backupfs"));
        File.WriteAllText(S3ConfigFiles.ConfigPath(dir.Path), "{ not json");
        e = Assert.Throws<BackupFsException>(() => S3ConfigFiles.LoadConfig(dir.Path));
        Assert.Contains("invalid S3 config", e.Message);
    }

    [Theory]
    [InlineData("ftp://host", "b-1", "us-east-1", "endpoint")]
    [InlineData("not a url", "b-1", "us-east-1", "endpoint")]
    [InlineData("http://host", "B_1", "us-east-1", "bucket")]
    [InlineData("http://host", "ab", "us-east-1", "bucket")]
    [InlineData("http://host", "xn--abc", "us-east-1", "bucket")]
    [InlineData("http://host", "b-1", "US East", "region")]
    public void InvalidFieldsAreNamed(string endpoint, string bucket, string region, string word)
    {
        var config = Valid with { Endpoint = endpoint, Bucket = bucket, Region = region };
        var e = Assert.Throws<BackupFsException>(config.Validate);
        Assert.Contains(word, e.Message);
    }

    [Fact]
    public void RegionAutoAndFingerprintFormsAreAccepted()
    {
        (Valid with { Region = "auto" }).Validate();
        var colon = string.Join(':', Enumerable.Repeat("AB", 32));
        Assert.Equal(32, S3StoreConfig.ParseFingerprint(colon).Length);
        Assert.Throws<BackupFsException>(() => S3StoreConfig.ParseFingerprint("ab:cd"));
    }

    [Fact]
    public void EndpointTemplatesResolveForBothAddressingStyles()
    {
        Assert.Equal("https://s3.eu-central-1.example.com", S3ClientFactory.ResolveServiceUrl(Valid));
        Assert.Equal("https://my-bucket.s3.eu-central-1.example.com", S3ClientFactory.ResolveServiceUrl(Valid with { PathStyle = true }));
        Assert.Equal("http://127.0.0.1:7480", S3ClientFactory.ResolveServiceUrl(Valid with { Endpoint = "http://127.0.0.1:7480/", PathStyle = true }));
        var sdk = S3ClientFactory.CreateSdkConfig(Valid with { Region = "auto" });
        Assert.Equal("auto", sdk.AuthenticationRegion);
        Assert.Equal(Amazon.Runtime.RequestChecksumCalculation.WHEN_REQUIRED, sdk.RequestChecksumCalculation);
        Assert.Equal(Amazon.Runtime.ResponseChecksumValidation.WHEN_REQUIRED, sdk.ResponseChecksumValidation);
        Assert.Equal(0, sdk.MaxErrorRetry);
    }

    [Fact]
    public void PinnedFingerprintInstallsTheCertificateCheck()
    {
        var sdk = S3ClientFactory.CreateSdkConfig(Valid with { Fingerprint = new string('0', 64) });
        Assert.IsType<PinnedCertificateHttpClientFactory>(sdk.HttpClientFactory);
    }

    [Fact]
    public void InitArgumentsBecomeAConfigNamedAfterTheStoreDirectory()
    {
        var config = S3StoreConfig.ForInit("/srv/backup/store7", "http://127.0.0.1:7480", "bkt", pathStyle: true, putRateLimit: 10);
        Assert.Equal("store7", config.StoreName);
        Assert.Equal(S3StoreConfig.DefaultRegion, config.Region);
        Assert.Equal(10, config.PutRateLimit);
        Assert.Equal("other", S3StoreConfig.ForInit("/srv/x y", "http://h", "bkt", storeName: "other").StoreName);
        var e = Assert.Throws<BackupFsException>(() => S3StoreConfig.ForInit("/srv/x y", "http://h", "bkt"));
        Assert.Contains("--store-name", e.Message);
        Assert.Throws<BackupFsException>(() => S3StoreConfig.ForInit("/srv/s", "http://h", "bkt", putRateLimit: -1));
    }
}

public class S3CredentialHygieneTests
{
    private static S3StoreConfig With(string endpoint) => new() { Endpoint = endpoint, Bucket = "my-bucket", StoreName = "store1" };

    [Theory]
    [InlineData("http://user:hunter2-secret@127.0.0.1:7480")]
    [InlineData("https://AKIA:hunter2-secret@{{bucket}}.s3.example.com/")]
    [InlineData("http://user:hunter2-secret@bad host")]
    [InlineData("http://:hunter2-secret@host")]
    public void EndpointsWithCredentialsAreRefusedWithoutEchoingThem(string endpoint)
    {
        var e = Assert.Throws<BackupFsException>(() => With(endpoint).Validate());
        Assert.Contains("must not contain credentials", e.Message);
        Assert.DoesNotContain("hunter2", e.Message);
        using var dir = new TempDir();
        Assert.Throws<BackupFsException>(() => S3ConfigFiles.SaveConfig(dir.Path, With(endpoint)));
        Assert.False(File.Exists(S3ConfigFiles.ConfigPath(dir.Path)));
    }

    [Fact]
    public void AHandEditedConfigWithCredentialsInTheEndpointIsRefusedOnLoad()
    {
        using var dir = new TempDir();
        S3ConfigFiles.SaveConfig(dir.Path, With("http://127.0.0.1:7480"));
        var path = S3ConfigFiles.ConfigPath(dir.Path);
        File.WriteAllText(path, File.ReadAllText(path).Replace("http://127.0.0.1", "http://u:hunter2-secret@127.0.0.1"));
        var e = Assert.Throws<BackupFsException>(() => S3ConfigFiles.LoadConfig(dir.Path));
        Assert.DoesNotContain("hunter2", e.Message);
    }

    [Fact]
    public void ConfigAndSecretsFilesAreCreatedPrivateWhateverTheUmask()
    {
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "store");
        var oldMask = Umask(0);                                  // the most permissive umask: modes must come from the code
        try
        {
            S3ConfigFiles.SaveConfig(root, With("http://127.0.0.1:7480"));
            S3ConfigFiles.SaveSecrets(root, new S3Credentials("AK", "SK", "test"));
        }
        finally { Umask(oldMask); }
        const UnixFileMode private600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(private600, File.GetUnixFileMode(S3ConfigFiles.ConfigPath(root)));
        Assert.Equal(private600, File.GetUnixFileMode(S3ConfigFiles.SecretsPath(root)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.GetDirectoryName(S3ConfigFiles.ConfigPath(root))!));
    }

    [Fact]
    public void TheTimeoutIsStoredAndDefaultsToThirtySecondsForOlderConfigs()
    {
        using var dir = new TempDir();
        S3ConfigFiles.SaveConfig(dir.Path, With("http://127.0.0.1:7480") with { TimeoutSeconds = 12 });
        var path = S3ConfigFiles.ConfigPath(dir.Path);
        Assert.Contains("\"timeout-seconds\": 12", File.ReadAllText(path));
        Assert.Equal(TimeSpan.FromSeconds(12), S3ConfigFiles.LoadConfig(dir.Path).Timeout);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"timeout-seconds\": 12,", ""));
        Assert.Equal(TimeSpan.FromSeconds(30), S3ConfigFiles.LoadConfig(dir.Path).Timeout);
        Assert.Throws<BackupFsException>(() => (With("http://h") with { TimeoutSeconds = 0 }).Validate());
    }

    [Fact]
    public void A_config_naming_only_the_required_fields_loads_with_every_default()
    {
        using var dir = new TempDir();
        S3ConfigFiles.SaveConfig(dir.Path, With("http://127.0.0.1:7480"));
        File.WriteAllText(S3ConfigFiles.ConfigPath(dir.Path),
            """{ "endpoint": "http://127.0.0.1:7480", "bucket": "bucket1", "store-name": "store1" }""");
        var loaded = S3ConfigFiles.LoadConfig(dir.Path);
        var defaults = new S3StoreConfig { Endpoint = "http://127.0.0.1:7480", Bucket = "bucket1", StoreName = "store1" };
        Assert.Equal(defaults, loaded);
        Assert.Equal(S3StoreConfig.DefaultRegion, loaded.Region);
        Assert.Equal(3, loaded.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(60), loaded.RequestTimeout);
    }

    [Fact]
    public void TheRedactorRemovesSecretsSignaturesAndUserInfo()
    {
        var r = new S3SecretRedactor(["wJalrXUtnFEMI-secret", null, ""]);
        var text = "GET http://bob:pw@host/b/k?X-Amz-Signature=abc123&X-Amz-Credential=AKIA/x failed: "
                 + "Authorization: AWS4-HMAC-SHA256 Credential=AKIA/2025, Signature=deadbeef; key wJalrXUtnFEMI-secret";
        var clean = r.Redact(text);
        Assert.DoesNotContain("pw@", clean);
        Assert.DoesNotContain("abc123", clean);
        Assert.DoesNotContain("deadbeef", clean);
        Assert.DoesNotContain("wJalrXUtnFEMI-secret", clean);
        Assert.Contains("http://***@host/b/k", clean);
        Assert.Equal("S3 rejected the credentials (SignatureDoesNotMatch)", r.Redact("S3 rejected the credentials (SignatureDoesNotMatch)"));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "umask")]
    private static extern uint Umask(uint mask);
}
