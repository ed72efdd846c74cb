using BackupFs.Datastore.Tests.Locking;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Tests.Fuse;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>Tests that point BackupFs at a fake PBS run directory (a process-wide variable) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PbsHostEnvironment
{
    public const string Name = "fake PBS host";
}

/// <summary>
/// The backupfs program (a separate process) next to a simulated PBS server holding its locks the
/// way PBS does: gc is refused (or waits with --wait) while PBS backs up, a backup into a group
/// PBS has locked fails with one clear error line.
/// </summary>
[Collection(PbsHostEnvironment.Name)]
public sealed class PbsCoexistenceCliTests : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task GcRefusesWhilePbsBacksUpAndWaitsWhenAsked()
    {
        var store = _tmp.Sub("ds");
        await CliRunner.RunOkAsync("init", store);
        using var pbs = new PbsStyleLocks(_tmp.Path);
        var backup = pbs.TryProcessLock(store, write: false);
        Assert.NotNull(backup);

        var refused = Bounded.Run(BackupFsProgram.Path, "gc", store);
        Assert.Equal(1, refused.ExitCode);
        Assert.StartsWith("error: ", refused.Stderr.Trim());
        Assert.Contains("another process", refused.Stderr);
        Assert.Single(refused.Stderr.Trim().Split('\n'));

        _ = Task.Delay(1500).ContinueWith(_ => backup!.Dispose());
        var waited = Bounded.Run(BackupFsProgram.Path, "gc", store, "--wait", "30");
        Assert.True(waited.ExitCode == 0, waited.Stderr);
        Assert.Contains("removed:", waited.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ABackupIntoAGroupPbsHasLockedFailsWithOneClearLine(bool oldLocking)
    {
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "f"), "data");
        await CliRunner.RunOkAsync("init", store);
        await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "web1");
        using var pbs = new PbsStyleLocks(_tmp.Path, oldLocking);
        using (var held = pbs.TryGroupLock(store, "ds", "", "host/web1"))
        {
            Assert.NotNull(held);
            var r = Bounded.Run(BackupFsProgram.Path, "backup", store, src, "--type", "host", "--id", "web1");
            Assert.Equal(1, r.ExitCode);
            Assert.Single(r.Stderr.Trim().Split('\n'));
            Assert.Matches(@"^error: group host/web1 is locked by another operation", r.Stderr.Trim());
            var prune = Bounded.Run(BackupFsProgram.Path, "prune", store, "host/web1", "--keep-last", "1");
            Assert.Equal(1, prune.ExitCode);
        }
        var ok = Bounded.Run(BackupFsProgram.Path, "backup", store, src, "--type", "host", "--id", "web1");
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.Equal(2, (await CliRunner.RunOkAsync("snapshots", store)).Trim().Split('\n').Length);
    }
}
