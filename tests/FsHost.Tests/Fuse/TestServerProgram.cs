using BackupFs.FsHost.Fuse;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>
/// Entry point of this test assembly when run as a program: serves an InMemoryFileSystem in a
/// separate process, so tests can send it SIGTERM or SIGKILL.
/// Usage: dotnet BackupFs.FsHost.Tests.dll fuse-test-server &lt;mountpoint&gt; [auto_unmount]
/// </summary>
public static class TestServerProgram
{
    public static int Main(string[] args)
    {
        if (args.Length < 2 || args[0] != "fuse-test-server") return 2;
        var mount = new FuseMountOptions(args[1]) { Subtype = FuseEnvironment.Subtype, FsName = "memfs", AutoUnmount = args.Contains("auto_unmount") };
        using var session = FuseSession.Mount(new InMemoryFileSystem(), mount);
        using var signals = session.HandleTerminationSignals();
        session.Ready.Wait();
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        session.RunUntilUnmounted();
        Console.Out.WriteLine("ended");
        return 0;
    }
}
