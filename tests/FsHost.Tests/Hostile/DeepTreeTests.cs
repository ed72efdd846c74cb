using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Hostile;

/// <summary>
/// The reported crash: a 10,000-level tree killed the mount at commit, and again after every remount.
/// A 20,000-level source tree (twice that, and ~10 times PATH_MAX) is backed up and restored from
/// the command line, mounted and walked, written into at the bottom through staging and committed;
/// after a kill -9 the journal replays and commits again; the mount process survives all of it.
/// (100,000 levels are encoded, extracted and committed in-process by PxarDepthTests; through
/// FUSE every level is a kernel round trip, so this test stays smaller.)
/// </summary>
[Collection("fuse")]
public class DeepTreeTests : IDisposable
{
    private const int Depth = 20_000;
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new("backupfs-deep-");
    public DeepTreeTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        BackupFsProgram.UnmountQuietly(_tmp.Sub("mnt"));
        DeepTrees.Remove(_tmp.Path);
        _tmp.Dispose();
    }

    private static void WriteFile(DirectoryHandle dir, string name, string text)
    {
        using var f = dir.OpenFile(System.Text.Encoding.UTF8.GetBytes(name), OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, FileAccess.Write);
        f.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    private static string ReadFile(DirectoryHandle dir, string name)
    {
        using var f = dir.OpenFile(System.Text.Encoding.UTF8.GetBytes(name), OpenFlags.ReadOnly, 0, FileAccess.Read);
        return new StreamReader(f).ReadToEnd();
    }

    private static List<string> Names(DirectoryHandle dir) =>
        dir.ReadNames().Select(n => System.Text.Encoding.UTF8.GetString(n)).Order(StringComparer.Ordinal).ToList();

    [FuseFact]
    public async Task TwentyThousandLevelsBackUpRestoreMountAndCommitFromStaging()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        var target = _tmp.Sub("restored");
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(src);
        Directory.CreateDirectory(mnt);
        using (var bottom = DeepTrees.MakeChain(src, Depth, "d")) WriteFile(bottom, "f", "bottom");
        await CliRunner.RunOkAsync("init", store);
        await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "deep");
        _output.WriteLine($"backup done at {clock.Elapsed}");
        await CliRunner.RunOkAsync("restore", store, "host/deep", "root.pxar", target);
        using (var bottom = DeepTrees.OpenChain(target, Depth, "d")) Assert.Equal("bottom", ReadFile(bottom, "f"));
        _output.WriteLine($"restore done at {clock.Elapsed}");

        if (!FuseEnvironment.Usable(_output)) return;
        var mounted = Bounded.Run(BackupFsProgram.Path, "mount", store, mnt, "--commit-delay", "3600");
        Assert.True(mounted.ExitCode == 0, mounted.Stderr);
        var pid = BackupFsProgram.MountPid(mnt);
        Assert.NotNull(pid);
        var session = Path.Combine(mnt, "staging/host/deep");
        Bounded.Io(() =>
        {
            using (var bottom = DeepTrees.OpenChain(Path.Combine(mnt, "host/deep/latest/root.pxar"), Depth, "d"))
                Assert.Equal("bottom", ReadFile(bottom, "f"));
            Directory.CreateDirectory(session);
            using (var bottom = DeepTrees.OpenChain(session, Depth, "d")) WriteFile(bottom, "g", "staged");
        }, TimeSpan.FromMinutes(5));
        _output.WriteLine($"mounted walk and staged write done at {clock.Elapsed}");
        var commit = Bounded.RunWithTimeout(TimeSpan.FromMinutes(5), BackupFsProgram.Path, "commit", session);
        Assert.True(commit.ExitCode == 0, commit.Stderr);
        Assert.True(Directory.Exists($"/proc/{pid}"), "the mount process died during the commit");
        _output.WriteLine($"commit done at {clock.Elapsed}");

        // A change journaled at the bottom, then the mount is killed: the remount replays and commits it.
        Bounded.Io(() => { using var bottom = DeepTrees.OpenChain(session, Depth, "d"); WriteFile(bottom, "h", "replayed"); }, TimeSpan.FromMinutes(5));
        Assert.Equal(0, Bounded.Run("kill", "-KILL", pid!.Value.ToString()).ExitCode);
        Assert.True(Bounded.Eventually(() => !Directory.Exists($"/proc/{pid}"), TimeSpan.FromSeconds(20)));
        var again = Bounded.Run(BackupFsProgram.Path, "mount", store, mnt, "--force", "--commit-delay", "3600");
        Assert.True(again.ExitCode == 0, again.Stderr);
        var pid2 = BackupFsProgram.MountPid(mnt);
        commit = Bounded.RunWithTimeout(TimeSpan.FromMinutes(5), BackupFsProgram.Path, "commit", session);
        Assert.True(commit.ExitCode == 0, commit.Stderr);
        Assert.True(Directory.Exists($"/proc/{pid2}"), "the remounted process died during the commit");
        Bounded.Io(() =>
        {
            using var bottom = DeepTrees.OpenChain(Path.Combine(mnt, "host/deep/latest/root.pxar"), Depth, "d");
            Assert.Equal(["f", "g", "h"], Names(bottom));
            Assert.Equal("replayed", ReadFile(bottom, "h"));
        }, TimeSpan.FromMinutes(5));
        _output.WriteLine($"replayed commit checked at {clock.Elapsed}");
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", mnt).ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt), TimeSpan.FromSeconds(30)));
    }
}
