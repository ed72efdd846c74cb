using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>
/// How a background `backupfs mount` starts: every mistake is found in the foreground, before it
/// detaches, and a mount process that fails afterwards reports its own error to the waiting command.
/// </summary>
[Collection("fuse")]
public sealed class MountStartCliTests : IAsyncLifetime, IDisposable
{
    // Without setsid on the PATH, a mount that got as far as detaching fails saying so: a check that
    // answers first is shown to run in the foreground.
    private const string NoSetsidPath = "PATH=/nonexistent-backupfs-test";
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new("backupfs-mountstart-");
    private string Store => _tmp.Sub("ds");
    private string Mnt => _tmp.Sub("mnt");

    public MountStartCliTests(ITestOutputHelper output) => _output = output;

    public async Task InitializeAsync()
    {
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "hello.txt"), "hello\n");
        await CliRunner.RunOkAsync("init", Store);
        await CliRunner.RunOkAsync("backup", Store, src, "--type", "host", "--id", "h");
        Directory.CreateDirectory(Mnt);
        Directory.CreateDirectory(_tmp.Sub("not-a-store"));
        Directory.CreateDirectory(_tmp.Sub("s3/.backupfs"));
        File.WriteAllText(_tmp.Sub("s3/.backupfs/s3.json"), "{ not json");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        BackupFsProgram.UnmountQuietly(Mnt);
        _tmp.Dispose();
    }

    [Theory]
    [InlineData("missing store", "datastore {tmp}/nope does not exist", "{tmp}/nope", "{mnt}")]
    [InlineData("not a store", "{tmp}/not-a-store is not a datastore", "{tmp}/not-a-store", "{mnt}")]
    [InlineData("S3 config", "invalid S3 config {tmp}/s3/.backupfs/s3.json", "{tmp}/s3", "{mnt}")]
    [InlineData("missing mount point", "mount point {tmp}/nomnt does not exist", "{store}", "{tmp}/nomnt")]
    [InlineData("file as mount point", "mount point {tmp}/src/hello.txt is a file, not a directory", "{store}", "{tmp}/src/hello.txt")]
    [InlineData("image mode", "--image-mode must be octal read permissions", "{store}", "{mnt}", "--image-mode", "0644")]
    [InlineData("commit delay", "--commit-delay must be at least 0, not -1", "{store}", "{mnt}", "--commit-delay", "-1")]
    [InlineData("dir cache time", "--s3-dir-cache-time must be at least 0, not NaN", "{store}", "{mnt}", "--s3-dir-cache-time", "nan")]
    [InlineData("cache size", "--cache-mb must be at least 1, not 0", "{store}", "{mnt}", "--cache-mb", "0")]
    [InlineData("threads", "--threads must be at least 1, not 0", "{store}", "{mnt}", "--threads", "0")]
    [InlineData("missing key", "cannot read key file {tmp}/nokey.json", "{store}", "{mnt}", "--keyfile", "{tmp}/nokey.json")]
    [InlineData("not a key", "key file {tmp}/src/hello.txt is not a PBS key file", "{store}", "{mnt}", "--keyfile", "{tmp}/src/hello.txt")]
    public void ABadOptionFailsInTheForegroundAndNothingIsMounted(string kind, string message, params string[] args)
    {
        _output.WriteLine(kind);
        string Fill(string a) => a.Replace("{tmp}", _tmp.Path).Replace("{store}", Store).Replace("{mnt}", Mnt);
        var r = Bounded.Run("env", [NoSetsidPath, BackupFsProgram.Path, "mount", .. args.Select(Fill)]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: ", r.Stderr);
        Assert.Contains(Fill(message), r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.False(MountTable.IsFuseMounted(Mnt));
    }

    [Fact]
    public void AWrongPassphraseFailsInTheForeground()
    {
        var key = Path.Combine(TestPaths.Vectors, "encrypted", "key-scrypt.json");
        var r = Bounded.Run("env", NoSetsidPath, "PBS_ENCRYPTION_PASSWORD=not the passphrase", BackupFsProgram.Path, "mount", Store, Mnt, "--keyfile", key);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: ", r.Stderr);
        Assert.DoesNotContain("could not start the mount process", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void AValidMountGetsAsFarAsDetaching()
    {
        // The premise of the tests above: with everything right, the missing setsid is what stops it.
        var r = Bounded.Run("env", NoSetsidPath, BackupFsProgram.Path, "mount", Store, Mnt);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: could not start the mount process (setsid)", r.Stderr);
        Assert.False(MountTable.IsFuseMounted(Mnt));
    }

    [FuseFact]
    public void AMountProcessThatFailsAfterDetachingReportsItsOwnError()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        if (Bounded.Run("sh", "-c", "command -v runuser").ExitCode != 0) { _output.WriteLine("runuser is missing"); return; }
        // As an ordinary user, on a sticky directory of root's: every check of ours passes (the user may
        // write there), but fusermount3 refuses a sticky mount point the user does not own. That happens
        // in the mount process, after it detached.
        Directory.CreateDirectory(_tmp.Sub("sticky"));
        File.SetUnixFileMode(_tmp.Sub("sticky"), (UnixFileMode)0x3FF); // 01777
        var logs = _tmp.Sub("logs");
        Directory.CreateDirectory(logs);
        File.SetUnixFileMode(logs, (UnixFileMode)0x3FF);
        Assert.Equal(0, Bounded.Run("chmod", "-R", "a+rX", Store).ExitCode);
        // The checkout may sit below a directory only root can enter (a private temp dir): the user runs a copy.
        var bin = _tmp.Sub("bin");
        Assert.Equal(0, Bounded.Run("cp", "-a", Path.GetDirectoryName(BackupFsProgram.Path)! + "/.", bin).ExitCode);
        Assert.Equal(0, Bounded.Run("chmod", "-R", "a+rX", bin).ExitCode);

        var r = Bounded.Run("runuser", "-u", "nobody", "--", "env", "-u", "XDG_RUNTIME_DIR", $"TMPDIR={logs}",
            Path.Combine(bin, Path.GetFileName(BackupFsProgram.Path)), "mount", Store, _tmp.Sub("sticky"), "--read-only");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"error: fusermount3 could not mount {_tmp.Sub("sticky")}", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.False(MountTable.IsFuseMounted(_tmp.Sub("sticky")));
        // The log still has the mount process's own account.
        var log = Assert.Single(Directory.GetFiles(logs, "mount-*.log", SearchOption.AllDirectories));
        Assert.Contains(r.Stderr.Trim(), File.ReadAllText(log));
    }

    [FuseFact]
    public void ABackgroundMountReportsReadyThroughThePipe()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var r = Bounded.Run(BackupFsProgram.Path, "mount", Store, Mnt);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.StartsWith($"mounted at {Mnt} (log: ", r.Stdout);
        Assert.Equal("hello\n", Bounded.Io(() => File.ReadAllText(Path.Combine(Mnt, "host/h/latest/root.pxar/hello.txt"))));
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", Mnt).ExitCode);
    }
}
