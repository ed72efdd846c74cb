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
        try { if (MountTable.IsFuseMounted(mnt)) FuseMounter.Unmount(mnt); } catch (IOException) { }
        _tmp.Dispose();
    }

    /// <summary>The backupfs program built next to the tests (the FsHost project's output).</summary>
    private static string Program()
    {
        var dir = AppContext.BaseDirectory;
        var exe = Path.Combine(dir, "backupfs");
        Assert.True(File.Exists(exe), $"backupfs not found in {dir}");
        return exe;
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

    private static int? MountPid(string mnt)
    {
        var ps = Bounded.Run("pgrep", "-f", $"mount .* {mnt} .*--foreground");
        return int.TryParse(ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(), out var pid) ? pid : null;
    }

    [Fact]
    public async Task BackgroundMountEndsCleanlyOnSigterm()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var (store, mnt) = await PrepareAsync();
        var started = Bounded.Run(Program(), "mount", store, mnt);
        Assert.True(started.ExitCode == 0, started.Stderr);
        Assert.Equal("hello\n", Bounded.Io(() => File.ReadAllText(Path.Combine(mnt, "host/h/latest/root.pxar/hello.txt"))));

        var pid = MountPid(mnt);
        Assert.NotNull(pid);
        Assert.Equal(0, Bounded.Run("kill", "-TERM", pid!.Value.ToString()).ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt) && MountPid(mnt) is null, TimeSpan.FromSeconds(15)));
    }

    [Fact]
    public async Task KilledMountLeavesAStaleMountThatIsExplainedAndCleared()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var (store, mnt) = await PrepareAsync();
        Assert.Equal(0, Bounded.Run(Program(), "mount", store, mnt).ExitCode);
        var pid = MountPid(mnt);
        Assert.NotNull(pid);
        Assert.Equal(0, Bounded.Run("kill", "-KILL", pid!.Value.ToString()).ExitCode);
        Assert.True(Bounded.Eventually(() => MountTable.IsStale(mnt), TimeSpan.FromSeconds(10)));

        var again = Bounded.Run(Program(), "mount", store, mnt);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("stale mount", again.Stderr);

        var forced = Bounded.Run(Program(), "mount", store, mnt, "--force");
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.True(Bounded.Io(() => File.Exists(Path.Combine(mnt, "host/h/latest/root.pxar/hello.txt"))));
        var umount = Bounded.Run(Program(), "umount", mnt);
        Assert.Equal(0, umount.ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void MountOfAMissingStoreFailsWithOneLine()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        var r = Bounded.Run(Program(), "mount", _tmp.Sub("nope"), mnt);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: ", r.Stderr);
        Assert.False(MountTable.IsFuseMounted(mnt));
    }
}
