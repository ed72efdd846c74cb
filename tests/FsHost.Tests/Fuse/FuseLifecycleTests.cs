using System.Diagnostics;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Fuse;

[Collection("fuse")]
public sealed class FuseLifecycleTests(ITestOutputHelper output)
{
    private static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(15);

    [FuseFact]
    public void Unmount_through_the_api_ends_the_session()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount();
        Assert.True(MountTable.IsFuseMounted(m.Root));
        m.Session.Unmount();
        Assert.True(m.Session.Completion.Wait(EndTimeout));
        Assert.False(MountTable.IsFuseMounted(m.Root));
        Assert.True(m.Fs.Destroyed);
    }

    [FuseFact]
    public void External_fusermount_unmount_ends_the_session()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount();
        Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(m.PathOf("hello.txt"))));
        var r = Bounded.Run("fusermount3", "-u", m.Root);
        Assert.Equal(0, r.ExitCode);
        Assert.True(m.Session.Completion.Wait(EndTimeout));
        Assert.False(MountTable.IsFuseMounted(m.Root));
    }

    [FuseFact]
    public void External_umount_ends_the_session()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount();
        Assert.Equal(0, Bounded.Run("umount", m.Root).ExitCode);
        Assert.True(m.Session.Completion.Wait(EndTimeout));
    }

    [FuseFact]
    public void Mount_through_fusermount3_with_auto_unmount_serves_and_unmounts()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount(o => o with { AutoUnmount = true });
        Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(m.PathOf("hello.txt"))));
        m.Session.Unmount();
        Assert.True(m.Session.Completion.Wait(EndTimeout));
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(m.Root), EndTimeout));
    }

    [FuseFact]
    public void Other_users_get_access_only_with_allow_other()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using (var closed = new TestMount())
        {
            var denied = Bounded.Run("runuser", "-u", "nobody", "--", "cat", closed.PathOf("hello.txt"));
            Assert.NotEqual(0, denied.ExitCode);
            Assert.Contains("Permission denied", denied.Stderr);
        }
        using var open = new TestMount(o => o with { AllowOther = true });
        var allowed = Bounded.Run("runuser", "-u", "nobody", "--", "cat", open.PathOf("hello.txt"));
        Assert.Equal(0, allowed.ExitCode);
        Assert.Equal(InMemoryFileSystem.HelloText, allowed.Stdout);
    }

    [FuseFact]
    public void Sigterm_unmounts_and_the_server_process_exits()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var dir = new TempDir("backupfs-fuse-");
        using var server = ServerProcess.Start(dir.Path, autoUnmount: false);
        try
        {
            Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(Path.Combine(dir.Path, "hello.txt"))));
            Assert.Equal(0, BackupFs.FsHost.Fuse.Interop.LibC.Kill(server.Process.Id, 15));
            Assert.True(server.Process.WaitForExit((int)EndTimeout.TotalMilliseconds), "server did not exit on SIGTERM");
            Assert.Equal(0, server.Process.ExitCode);
            Assert.False(MountTable.IsFuseMounted(dir.Path));
        }
        finally { server.Cleanup(); }
    }

    [FuseFact]
    public void Killed_server_leaves_a_stale_mount_that_is_detected_and_cleared()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var dir = new TempDir("backupfs-fuse-");
        using var server = ServerProcess.Start(dir.Path, autoUnmount: false);
        try
        {
            Assert.False(MountTable.IsStale(dir.Path));
            server.Process.Kill();
            Assert.True(server.Process.WaitForExit((int)EndTimeout.TotalMilliseconds));
            Assert.True(MountTable.IsFuseMounted(dir.Path));
            var stat = Bounded.Run("stat", dir.Path);
            // Over io_uring the kernel may still be aborting the connection (ECONNABORTED) just after the kill.
            Assert.True(stat.Stderr.Contains("Transport endpoint is not connected") || stat.Stderr.Contains("Software caused connection abort"), stat.Stderr);
            Assert.True(MountTable.IsStale(dir.Path));
            Assert.True(MountTable.ClearStale(dir.Path));
            Assert.False(MountTable.IsFuseMounted(dir.Path));
            Assert.False(MountTable.ClearStale(dir.Path));
        }
        finally { server.Cleanup(); }
    }

    [FuseFact]
    public void Killed_server_with_auto_unmount_leaves_no_mount()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var dir = new TempDir("backupfs-fuse-");
        using var server = ServerProcess.Start(dir.Path, autoUnmount: true);
        try
        {
            Assert.True(MountTable.IsFuseMounted(dir.Path));
            server.Process.Kill();
            Assert.True(server.Process.WaitForExit((int)EndTimeout.TotalMilliseconds));
            Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(dir.Path), EndTimeout), "auto_unmount did not remove the mount");
        }
        finally { server.Cleanup(); }
    }

    [FuseFact]
    public void Mounting_over_a_stale_mount_clears_it_on_request()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var dir = new TempDir("backupfs-fuse-");
        var mnt = dir.Sub("mnt");
        Directory.CreateDirectory(mnt);
        var server = ServerProcess.Start(mnt, autoUnmount: false);
        server.Process.Kill();
        server.Process.WaitForExit((int)EndTimeout.TotalMilliseconds);
        server.Process.Dispose(); // not Dispose(): that would clear the stale mount this test needs
        try
        {
            Assert.True(MountTable.IsStale(mnt));
            using var session = FuseSession.Mount(new InMemoryFileSystem(), new FuseMountOptions(mnt) { Subtype = FuseEnvironment.Subtype, ClearStaleMount = true });
            Assert.True(session.Ready.Wait(EndTimeout));
            Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(Path.Combine(mnt, "hello.txt"))));
            Assert.False(MountTable.IsStale(mnt));
        }
        finally
        {
            while (MountTable.IsFuseMounted(mnt)) FuseMounter.Unmount(mnt);
        }
    }

    /// <summary>A TestServerProgram child process serving a mount.</summary>
    private sealed class ServerProcess : IDisposable
    {
        public required Process Process { get; init; }
        public required string MountPoint { get; init; }

        public static ServerProcess Start(string mountPoint, bool autoUnmount)
        {
            var dll = typeof(TestServerProgram).Assembly.Location;
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { dll, "fuse-test-server", mountPoint }) start.ArgumentList.Add(a);
            if (autoUnmount) start.ArgumentList.Add("auto_unmount");
            var p = Process.Start(start)!;
            var line = p.StandardOutput.ReadLineAsync();
            if (!line.Wait(TimeSpan.FromSeconds(60)) || line.Result != "ready")
            {
                try { p.Kill(true); } catch (InvalidOperationException) { }
                throw new InvalidOperationException("test server did not start: " + p.StandardError.ReadToEnd());
            }
            return new ServerProcess { Process = p, MountPoint = mountPoint };
        }

        public void Cleanup()
        {
            try { if (!Process.HasExited) Process.Kill(true); } catch (InvalidOperationException) { }
            for (var i = 0; i < 5 && MountTable.IsFuseMounted(MountPoint); i++)
                try { FuseMounter.Unmount(MountPoint); } catch (IOException) { }
        }

        public void Dispose() { Cleanup(); Process.Dispose(); }
    }
}
