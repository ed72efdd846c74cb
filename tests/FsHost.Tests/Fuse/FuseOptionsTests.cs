using BackupFs.FsHost.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>Bad mount requests fail with clear errors before anything is mounted.</summary>
public sealed class FuseOptionsTests
{
    [Fact]
    public void Names_with_option_separators_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => FuseSession.Mount(new InMemoryFileSystem(), new FuseMountOptions("/tmp") { FsName = "a,allow_other" }));
        Assert.Contains("FsName", e.Message);
        Assert.Throws<ArgumentException>(() => FuseSession.Mount(new InMemoryFileSystem(), new FuseMountOptions("/tmp") { Subtype = "" }));
        Assert.Throws<ArgumentException>(() => FuseSession.Mount(new InMemoryFileSystem(), new FuseMountOptions(" ")));
    }

    [Fact]
    public void Session_limits_are_checked()
    {
        var fs = new InMemoryFileSystem();
        var mount = new FuseMountOptions("/tmp");
        Assert.Throws<ArgumentOutOfRangeException>(() => FuseSession.Mount(fs, mount, new FuseSessionOptions { MaxWrite = 5000 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => FuseSession.Mount(fs, mount, new FuseSessionOptions { MaxWrite = 2 << 20 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => FuseSession.Mount(fs, mount, new FuseSessionOptions { ReaderThreads = 0 }));
    }

    [Fact]
    public void A_missing_mount_point_is_reported()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() =>
            FuseSession.Mount(new InMemoryFileSystem(), new FuseMountOptions("/nonexistent/backupfs-mount-point")));
        Assert.Contains("/nonexistent/backupfs-mount-point", e.Message);
    }
}

[Collection("fuse")]
public sealed class FuseMountPointNameTests(ITestOutputHelper output)
{
    [FuseFact]
    public void Mount_points_with_blanks_are_found_in_the_mount_table()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var dir = new BackupFs.Datastore.Tests.TestSupport.TempDir("backupfs-fuse-");
        var mnt = dir.Sub("mount point\twith blanks");
        Directory.CreateDirectory(mnt);
        try
        {
            using var session = FuseSession.Mount(new InMemoryFileSystem(), new FuseMountOptions(mnt) { Subtype = FuseEnvironment.Subtype });
            Assert.True(session.Ready.Wait(TimeSpan.FromSeconds(30)));
            Assert.True(MountTable.IsFuseMounted(mnt));
            Assert.Equal("fuse." + FuseEnvironment.Subtype, MountTable.Find(mnt)!.FsType);
            Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(Path.Combine(mnt, "hello.txt"))));
            session.Unmount();
            Assert.True(session.Completion.Wait(TimeSpan.FromSeconds(15)));
            Assert.False(MountTable.IsFuseMounted(mnt));
        }
        finally
        {
            while (MountTable.IsFuseMounted(mnt)) MountTable.UnmountLazily(mnt);
        }
    }
}
