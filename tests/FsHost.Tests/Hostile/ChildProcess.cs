using System.Diagnostics;
using System.Text.RegularExpressions;
using BackupFs.FsHost.Tests.Fuse;

namespace BackupFs.FsHost.Tests.Hostile;

/// <summary>Runs a program and reports its peak resident memory (getrusage of the waited child, through python3).</summary>
internal static partial class ChildProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, long PeakKb, TimeSpan Elapsed);

    public static Result RunMeasured(TimeSpan timeout, string file, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var all = new List<string>
        {
            "-c",
            "import resource,subprocess,sys\nr=subprocess.run(sys.argv[1:])\nprint('peak_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\nsys.exit(r.returncode)",
            file,
        };
        all.AddRange(args);
        var r = Bounded.RunWithTimeout(timeout, "python3", [.. all]);
        var m = PeakLine().Match(r.Stderr);
        Assert.True(m.Success, "no peak line: " + r.Stderr);
        return new Result(r.ExitCode, r.Stdout, PeakLine().Replace(r.Stderr, "").Trim(), long.Parse(m.Groups[1].Value), clock.Elapsed);
    }

    /// <summary>Peak resident memory (VmHWM, KiB) of a running process.</summary>
    public static long PeakKbOf(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0]);
        return -1;
    }

    [GeneratedRegex(@"peak_kb (\d+)\s*")]
    private static partial Regex PeakLine();
}
