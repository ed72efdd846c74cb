using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Fuse;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>The backupfs program built next to the tests, run as a user runs it (background mounts, signals).</summary>
internal static class BackupFsProgram
{
    /// <summary>
    /// The program as the FsHost project built it in the tests' configuration: in Release the native
    /// (ahead-of-time compiled) program users run, so these tests exercise that build; else the
    /// launcher copied beside the tests.
    /// </summary>
    public static string Path
    {
        get
        {
            var configuration = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/'))!);
            var built = System.IO.Path.Combine(TestPaths.RepoRoot, "src", "FsHost", "bin", configuration, "net10.0", "backupfs");
            var exe = File.Exists(built) ? built : System.IO.Path.Combine(AppContext.BaseDirectory, "backupfs");
            Assert.True(File.Exists(exe), $"backupfs not found in {AppContext.BaseDirectory}");
            return exe;
        }
    }

    /// <summary>Runs the program (bounded) and fails the test with its stderr unless it exits 0.</summary>
    public static ToolResult RunOk(params string[] args)
    {
        var r = Bounded.Run(Path, args);
        Assert.True(r.ExitCode == 0, $"backupfs {string.Join(' ', args)} failed ({r.ExitCode}): {r.Stderr}");
        return r;
    }

    /// <summary>The pid of the background mount process serving <paramref name="mnt"/>, if any.</summary>
    public static int? MountPid(string mnt)
    {
        var ps = Bounded.Run("pgrep", "-f", $"mount .* {mnt} .*--foreground");
        return int.TryParse(ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(), out var pid) ? pid : null;
    }

    /// <summary>Teardown: unmounts <paramref name="mnt"/> if something is still mounted there.</summary>
    public static void UnmountQuietly(string mnt)
    {
        try { if (MountTable.IsFuseMounted(mnt)) FuseMounter.Unmount(mnt); } catch (IOException) { }
    }
}
