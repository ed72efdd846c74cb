using System.Diagnostics;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Fuse.Uring;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Fuse;

[CollectionDefinition("fuse", DisableParallelization = true)]
public sealed class FuseCollection { }

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Bounded access to mounts: a buggy server must fail a test, never hang the run.</summary>
public static class Bounded
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs a tool; kills it (and its children) when it outlives the timeout.</summary>
    public static ToolResult Run(string file, params string[] args) => RunWithTimeout(DefaultTimeout, file, args);

    public static ToolResult RunWithTimeout(TimeSpan timeout, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit((int)timeout.TotalMilliseconds))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s");
        }
        p.WaitForExit();
        return new ToolResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs .NET file I/O on the pool with a timeout.</summary>
    public static T Io<T>(Func<T> action, TimeSpan? timeout = null)
    {
        var task = Task.Run(action);
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(timeout ?? DefaultTimeout))
            throw new TimeoutException("file system access did not finish in time");
        return task.GetAwaiter().GetResult();
    }

    public static void Io(Action action, TimeSpan? timeout = null) => Io(() => { action(); return 0; }, timeout);

    /// <summary>Waits for a condition that another party makes true (polling, bounded).</summary>
    public static bool Eventually(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (condition()) return true;
            Thread.Sleep(50);
        }
        return condition();
    }
}

/// <summary>Decides whether real mounts can run here. Under CI=true an unusable /dev/fuse fails loudly.</summary>
public static class FuseEnvironment
{
    public const string Subtype = "backupfs-test";

    private static readonly Lazy<string?> Problem = new(FindProblem);
    private static int _swept;

    internal static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why real mounts cannot run here, or null; under CI=true always null, so the test runs and fails loudly.</summary>
    public static string? SkipReason => Problem.Value is { } p && !InCi ? "FUSE mount test not run: " + p : null;

    public static bool Usable(ITestOutputHelper output)
    {
        if (Problem.Value is null)
        {
            if (Interlocked.Exchange(ref _swept, 1) == 0) SweepStaleTestMounts();
            return true;
        }
        if (InCi)
            throw new InvalidOperationException("FUSE mount tests cannot run: " + Problem.Value);
        output.WriteLine("FUSE mount test not run: " + Problem.Value);
        return false;
    }

    private static string? FindProblem()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (!File.Exists("/dev/fuse")) return "/dev/fuse is missing (load the fuse module)";
        if (!File.Exists("/usr/bin/fusermount3") && !File.Exists("/bin/fusermount3")) return "fusermount3 is missing (apt-get install -y fuse3)";
        if (!FuseMounter.IsRoot) return "the mount tests need root (/dev/fuse and mount(2))";
        try { using var f = File.Open("/dev/fuse", FileMode.Open, FileAccess.ReadWrite); }
        catch (Exception e) { return "/dev/fuse cannot be opened: " + e.Message; }
        return null;
    }

    /// <summary>Clears stale mounts a crashed earlier run left behind. A mount whose server still
    /// answers belongs to a run going on in parallel (another checkout) and is left alone.</summary>
    private static void SweepStaleTestMounts()
    {
        foreach (var m in MountTable.Read().Where(m => m.FsType == "fuse." + Subtype).Reverse())
        {
            if (!ServerIsGone(m.MountPoint)) continue;
            try { FuseMounter.Unmount(m.MountPoint); } catch (IOException) { }
        }
    }

    /// <summary>statfs of a mount whose server died fails with ENOTCONN at once; a live one answers.</summary>
    private static bool ServerIsGone(string mountPoint)
    {
        var probe = Task.Run(() => MountTable.IsStale(mountPoint));
        // A server that does not answer within the bound is hung: treat it as gone.
        return !probe.Wait(TimeSpan.FromSeconds(5)) || probe.Result;
    }
}

/// <summary>A test that mounts for real: reported as skipped (not passed) where FUSE cannot run, except in CI.</summary>
public sealed class FuseFactAttribute : FactAttribute
{
    public FuseFactAttribute() { if (FuseEnvironment.SkipReason is { } why) Skip = why; }
}

/// <summary>A data-driven test that mounts for real; skipped like <see cref="FuseFactAttribute"/>.</summary>
public sealed class FuseTheoryAttribute : TheoryAttribute
{
    public FuseTheoryAttribute() { if (FuseEnvironment.SkipReason is { } why) Skip = why; }
}

/// <summary>An <see cref="InMemoryFileSystem"/> mounted under a fresh temp dir; teardown always
/// lazily unmounts.</summary>
public sealed class TestMount : IDisposable
{
    private readonly TempDir _dir = new("backupfs-fuse-");
    public InMemoryFileSystem Fs { get; }
    public FuseSession Session { get; }
    public string Root => Session.MountPoint;
    public List<string> Log { get; } = new();

    public TestMount(Func<FuseMountOptions, FuseMountOptions>? tweak = null, FuseSessionOptions? options = null, Func<string, InMemoryFileSystem>? fileSystem = null)
    {
        Fs = fileSystem?.Invoke(_dir.Sub("backing")) ?? new InMemoryFileSystem();
        var mountPoint = _dir.Sub("mnt");
        Directory.CreateDirectory(mountPoint);
        var mount = new FuseMountOptions(mountPoint) { Subtype = FuseEnvironment.Subtype, FsName = "memfs" };
        if (tweak != null) mount = tweak(mount);
        options ??= new FuseSessionOptions();
        options = options with { Log = m => { lock (Log) Log.Add(m); }, IoUring = FuseTransports.Resolve(options.IoUring) };
        Session = FuseSession.Mount(Fs, mount, options);
        if (!Session.Ready.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("INIT was not answered");
    }

    public string PathOf(string relative) => Path.Combine(Root, relative);

    public void Dispose()
    {
        try
        {
            var disposing = Task.Run(Session.Dispose);
            disposing.Wait(TimeSpan.FromSeconds(20));
        }
        finally
        {
            try { if (MountTable.IsFuseMounted(Root)) FuseMounter.Unmount(Root); } catch (IOException) { }
            if (!MountTable.IsFuseMounted(Root)) _dir.Dispose();
        }
    }
}

/// <summary>
/// Which FUSE transport the mount tests use. By default the mount's own default (auto: io_uring
/// when the kernel parameter fuse.enable_uring is Y), and as root the parameter is switched on when
/// the test assembly loads, so every mount of a run, the program's too, uses the same transport
/// whatever order the tests run in (tests asking for io_uring would switch it on anyway; it changes
/// nothing for other servers: a connection uses io_uring only when its server asks in INIT).
/// BACKUPFS_TEST_FUSE_URING=off serves the in-process mounts over /dev/fuse instead and leaves the
/// parameter as it is. FuseTransportTests cover both transports always.
/// </summary>
public static class FuseTransports
{
    private static bool DevFuseOnly =>
        string.Equals(Environment.GetEnvironmentVariable("BACKUPFS_TEST_FUSE_URING"), "off", StringComparison.OrdinalIgnoreCase);

    public static FuseIoUring Default => DevFuseOnly ? FuseIoUring.Off : FuseIoUring.Auto;

    /// <summary>The mount's default (Auto) becomes <see cref="Default"/>; an explicit choice stays.</summary>
    public static FuseIoUring Resolve(FuseIoUring requested) => requested == FuseIoUring.Auto ? Default : requested;

#pragma warning disable CA2255 // a test assembly's one-time machine set-up, before any test mounts
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void SwitchKernelParameterOn()
    {
        if (!DevFuseOnly && FuseMounter.IsRoot) IoUringSupport.TryEnable(_ => { }); // if it cannot, the tests run over /dev/fuse
    }

    /// <summary>Whether this kernel can serve FUSE over io_uring at all (6.14+).</summary>
    public static bool KernelHasIoUring => IoUringSupport.KernelHasIt;
}
