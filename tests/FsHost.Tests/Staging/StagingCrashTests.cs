using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>kill -9 of the mount process in the middle of an rsync into staging: nothing written is lost, no half snapshot appears.</summary>
[Collection("fuse")]
public class StagingCrashTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    public StagingCrashTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        var mnt = _tmp.Sub("mnt");
        BackupFsProgram.UnmountQuietly(mnt);
        _tmp.Dispose();
    }

    /// <param name="passthrough">the kernel writes spool files itself (auto: as root) or through the writeback cache</param>
    [FuseTheory]
    [InlineData("auto")]
    [InlineData("off")]
    public async Task KillDuringRsyncThenRemountRerunAndCommit(string passthrough)
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = _tmp.Sub("ds");
        var mnt = _tmp.Sub("mnt");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(mnt);
        await CliRunner.RunOkAsync("init", store);
        var rng = new Random(11);
        for (int i = 0; i < 600; i++)
        {
            var dir = Path.Combine(src, $"d{i % 12}");
            Directory.CreateDirectory(dir);
            var data = new byte[i % 100 == 0 ? 8_000_000 : 5000 + i * 13];
            rng.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, $"f{i:000}"), data);
        }
        // A first snapshot, so the session has a base with reusable files.
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "mount", store, mnt, "--commit-delay", "3600", "--passthrough", passthrough).ExitCode);
        var session = Path.Combine(mnt, "staging/host/crash");
        Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
        Assert.Equal(0, Bounded.RunWithTimeout(TimeSpan.FromMinutes(3), "rsync", "-a", src + "/d0/", session + "/d0/").ExitCode);
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "commit", session).ExitCode);

        // The rest in the background, killed partway (slowed down, so a fast machine is still copying when 50 files have content).
        using var rsync = System.Diagnostics.Process.Start("rsync", ["-a", "--delete", "--bwlimit=4000", src + "/", session + "/"])!;
        Assert.True(Bounded.Eventually(() => Directory.Exists(Path.Combine(store, ".backupfs/staging/host/crash/spool"))
            && Directory.GetFiles(Path.Combine(store, ".backupfs/staging/host/crash/spool")).Count(f => new FileInfo(f).Length > 0) > 50, TimeSpan.FromSeconds(60)));
        var pid = BackupFsProgram.MountPid(mnt);
        Assert.NotNull(pid);
        Assert.Equal(0, Bounded.Run("kill", "-KILL", pid!.Value.ToString()).ExitCode);
        Assert.True(rsync.WaitForExit(60_000));
        Assert.NotEqual(0, rsync.ExitCode);
        var before = Bounded.Run(BackupFsProgram.Path, "snapshots", store).Stdout;
        Assert.Single(before.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // no half snapshot

        // Remount (clearing the stale mount): the session is resumed from its journal.
        var again = Bounded.Run(BackupFsProgram.Path, "mount", store, mnt, "--force", "--commit-delay", "3600", "--passthrough", passthrough);
        Assert.True(again.ExitCode == 0, again.Stderr);
        var itemized = Bounded.RunWithTimeout(TimeSpan.FromMinutes(3), "rsync", "-a", "--delete", "--itemize-changes", src + "/", session + "/");
        Assert.True(itemized.ExitCode == 0, itemized.Stderr);
        // Files completed before the kill are not sent again.
        Assert.True(itemized.Stdout.Split('\n').Count(l => l.StartsWith(">f+++")) < 600 - 50, itemized.Stdout.Length.ToString());
        var name = Bounded.Run(BackupFsProgram.Path, "commit", session).Stdout.Trim();
        Assert.StartsWith("host/crash/", name);
        var dry = Bounded.Run("rsync", "-a", "--dry-run", "--itemize-changes", src + "/", Path.Combine(mnt, name, "root.pxar") + "/");
        Assert.Equal("", dry.Stdout.Trim());
        var verify = Bounded.RunWithTimeout(TimeSpan.FromMinutes(3), BackupFsProgram.Path, "verify", store);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", mnt).ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt), TimeSpan.FromSeconds(20)));
        Assert.Equal(2, Bounded.Run(BackupFsProgram.Path, "snapshots", store).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}
