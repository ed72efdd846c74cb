using System.Diagnostics;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Cli;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>Runs `backupfs` in-process with captured output, and lists trees with the vectors' mktree.py.</summary>
internal static class CliRunner
{
    public static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CommandLineApp.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public static async Task<string> RunOkAsync(params string[] args)
    {
        var (code, output, error) = await RunAsync(args);
        Assert.True(code == 0, $"backupfs {string.Join(' ', args)} failed ({code}): {error}");
        return output;
    }

    /// <summary>Runs tests/vectors/mktree.py with the given arguments and returns stdout.</summary>
    public static string MkTree(params string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(TestPaths.Vectors, "mktree.py"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "mktree.py did not finish");
        Assert.True(p.ExitCode == 0, stderr.Result);
        return stdout.Result;
    }
}
