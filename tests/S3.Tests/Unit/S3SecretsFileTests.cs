using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Config;

namespace BackupFs.S3.Tests.Unit;

public class S3SecretsFileTests
{
    [Fact]
    public void SecretsAreWrittenOwnerOnlyAndReadBack()
    {
        using var dir = new TempDir();
        S3ConfigFiles.SaveSecrets(dir.Path, new S3Credentials("AK1", "s3cr3t", "test"));
        var path = S3ConfigFiles.SecretsPath(dir.Path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var back = S3ConfigFiles.LoadSecrets(dir.Path)!;
        Assert.Equal("AK1", back.AccessKey);
        Assert.Equal("s3cr3t", back.SecretKey);
        Assert.DoesNotContain("s3cr3t", back.ToString());
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.GroupWrite)]
    public void ASecretsFileAccessibleByOthersIsRefused(UnixFileMode extra)
    {
        using var dir = new TempDir();
        S3ConfigFiles.SaveSecrets(dir.Path, new S3Credentials("AK1", "s3cr3t", "test"));
        var path = S3ConfigFiles.SecretsPath(dir.Path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | extra);
        var e = Assert.Throws<BackupFsException>(() => S3ConfigFiles.LoadSecrets(dir.Path));
        Assert.Contains("chmod 600", e.Message);
        Assert.DoesNotContain("s3cr3t", e.Message);
    }

    [Fact]
    public void MalformedSecretsFileIsReportedWithoutItsContent()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, ".backupfs"));
        var path = S3ConfigFiles.SecretsPath(dir.Path);
        File.WriteAllText(path, "{\"access-key\": \"AK\", \"secret-key\": ");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var e = Assert.Throws<BackupFsException>(() => S3ConfigFiles.LoadSecrets(dir.Path));
        Assert.Contains("invalid S3 secrets file", e.Message);
    }

    [Fact]
    public void NoSecretsFileMeansNull()
    {
        using var dir = new TempDir();
        Assert.Null(S3ConfigFiles.LoadSecrets(dir.Path));
    }
}
