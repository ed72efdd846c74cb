using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Config;

namespace BackupFs.S3.Tests.Unit;

/// <summary>Changes process environment variables: its tests run one at a time and restore them.</summary>
[Collection(nameof(S3CredentialResolverTests))]
[CollectionDefinition(nameof(S3CredentialResolverTests), DisableParallelization = true)]
public class S3CredentialResolverTests
{
    private static readonly string[] Vars = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"];

    private static void WithEnv(Dictionary<string, string?> values, Action body)
    {
        var saved = Vars.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var v in Vars) Environment.SetEnvironmentVariable(v, values.GetValueOrDefault(v));
            body();
        }
        finally
        {
            foreach (var (k, v) in saved) Environment.SetEnvironmentVariable(k, v);
        }
    }

    [Fact]
    public void TheSecretsFileComesFirstThenTheEnvironment()
    {
        using var dir = new TempDir();
        WithEnv(new() { ["AWS_ACCESS_KEY_ID"] = "ENVKEY", ["AWS_SECRET_ACCESS_KEY"] = "envsecret" }, () =>
        {
            var fromEnv = S3CredentialResolver.Resolve(dir.Path);
            Assert.Equal("ENVKEY", fromEnv.AccessKey);
            Assert.Equal("environment", fromEnv.Source);
            S3ConfigFiles.SaveSecrets(dir.Path, new S3Credentials("FILEKEY", "filesecret", "test"));
            Assert.Equal("FILEKEY", S3CredentialResolver.Resolve(dir.Path).AccessKey);
        });
    }

    [Fact]
    public void AProfileFromTheSharedCredentialsFileIsUsed()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "credentials");
        File.WriteAllText(file, "[backupfs-test]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = profilesecret\n");
        WithEnv(new()
        {
            ["AWS_PROFILE"] = "backupfs-test", ["AWS_SHARED_CREDENTIALS_FILE"] = file, ["AWS_CONFIG_FILE"] = Path.Combine(dir.Path, "config"),
        }, () =>
        {
            var creds = S3CredentialResolver.Resolve(null);
            Assert.Equal("PROFILEKEY", creds.AccessKey);
            Assert.Contains("backupfs-test", creds.Source);
        });
    }

    [Fact]
    public void NoCredentialsAnywhereIsOneClearLine()
    {
        using var dir = new TempDir();
        WithEnv(new()
        {
            ["AWS_PROFILE"] = "no-such-profile", ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(dir.Path, "none"),
            ["AWS_CONFIG_FILE"] = Path.Combine(dir.Path, "none2"),
        }, () =>
        {
            var e = Assert.Throws<BackupFsException>(() => S3CredentialResolver.Resolve(dir.Path));
            Assert.Contains("no S3 credentials", e.Message);
        });
    }
}
