using System.Diagnostics;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>`backupfs mount` / `umount` as a user runs them: a background process, SIGTERM, kill -9 and a stale mount.</summary>
[Collection("fuse")]
public class MountCommandTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    public MountCommandTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        var mnt = _tmp.Sub("mnt");
        BackupFsProgram.UnmountQuietly(mnt);
        _tmp.Dispose();
    }

    private async Task<(string Store, string Mnt)> PrepareAsync()
    {
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "hello.txt"), "hello\n");
        await CliRunner.RunOkAsync("init", store);
        await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "h");
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        return (store, mnt);
    }

    [FuseFact]
    public async Task BackgroundMountEndsCleanlyOnSigterm()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var (store, mnt) = await PrepareAsync();
        var started = Bounded.Run(BackupFsProgram.Path, "mount", store, mnt);
        Assert.True(started.ExitCode == 0, started.Stderr);
        Assert.Equal("hello\n", Bounded.Io(() => File.ReadAllText(Path.Combine(mnt, "host/h/latest/root.pxar/hello.txt"))));

        var pid = BackupFsProgram.MountPid(mnt);
        Assert.NotNull(pid);
        Assert.Equal(0, Bounded.Run("kill", "-TERM", pid!.Value.ToString()).ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt) && BackupFsProgram.MountPid(mnt) is null, TimeSpan.FromSeconds(15)));
    }

    [FuseFact]
    public async Task KilledMountLeavesAStaleMountThatIsExplainedAndCleared()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var (store, mnt) = await PrepareAsync();
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "mount", store, mnt).ExitCode);
        var pid = BackupFsProgram.MountPid(mnt);
        Assert.NotNull(pid);
        Assert.Equal(0, Bounded.Run("kill", "-KILL", pid!.Value.ToString()).ExitCode);
        Assert.True(Bounded.Eventually(() => MountTable.IsStale(mnt), TimeSpan.FromSeconds(10)));

        var again = Bounded.Run(BackupFsProgram.Path, "mount", store, mnt);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("stale mount", again.Stderr);

        var forced = Bounded.Run(BackupFsProgram.Path, "mount", store, mnt, "--force");
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.True(Bounded.Io(() => File.Exists(Path.Combine(mnt, "host/h/latest/root.pxar/hello.txt"))));
        var umount = Bounded.Run(BackupFsProgram.Path, "umount", mnt);
        Assert.Equal(0, umount.ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt), TimeSpan.FromSeconds(10)));
    }

    [FuseFact]
    public void MountOfAMissingStoreFailsWithOneLine()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        var r = Bounded.Run(BackupFsProgram.Path, "mount", _tmp.Sub("nope"), mnt);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: ", r.Stderr);
        Assert.False(MountTable.IsFuseMounted(mnt));
    }
}
