using System.Text.RegularExpressions;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Cli;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tree;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>
/// What other local users can get from a mount: whole archives (images, raw streams, blobs) are the
/// mounting user's only (0400) unless --image-mode says otherwise, files inside pxar archives keep
/// their archived permissions, and a background mount logs to a private file.
/// </summary>
[Collection("fuse")]
public sealed class MountPrivacyTests : IAsyncLifetime, IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new("backupfs-privacy-");
    private string Store => _tmp.Sub("ds");

    public MountPrivacyTests(ITestOutputHelper output) => _output = output;

    public async Task InitializeAsync()
    {
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "public.txt"), "hello\n");
        File.SetUnixFileMode(Path.Combine(src, "public.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var image = _tmp.Sub("disk.img");
        File.WriteAllBytes(image, new byte[256 * 1024]);
        await CliRunner.RunOkAsync("init", Store);
        await CliRunner.RunOkAsync("backup", Store, src, "--type", "host", "--id", "h");
        await CliRunner.RunOkAsync("backup", Store, image, "--image", "--type", "vm", "--id", "100");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        BackupFsProgram.UnmountQuietly(_tmp.Sub("mnt"));
        _tmp.Dispose();
    }

    private static uint Mode(string path) => Posix.LStat(Posix.PathBytes(path)).Mode & 0xFFF;

    [FuseFact]
    public void WholeArchivesAreOwnerOnlyByDefaultAndPxarContentKeepsItsMode()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        using var mount = new DatastoreMount(DataStore.OpenLocal(Store), new TreeOptions { ShowRawArchives = true });

        Assert.Equal(0x100u, Bounded.Io(() => Mode(mount.PathOf("vm/100/latest/disk.img"))));
        Assert.Equal(0x100u, Bounded.Io(() => Mode(mount.PathOf("host/h/latest/root.pxar.raw"))));
        Assert.Equal(0x1A4u, Bounded.Io(() => Mode(mount.PathOf("host/h/latest/root.pxar/public.txt"))));
        var owner = Bounded.Io(() => Posix.LStat(Posix.PathBytes(mount.PathOf("vm/100/latest/disk.img"))).Uid);
        Assert.Equal(uint.Parse(Bounded.Run("id", "-u").Stdout.Trim()), owner);
    }

    [FuseFact]
    public void ImageModeOptionWidensWholeArchives()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        using var mount = new DatastoreMount(DataStore.OpenLocal(Store), new TreeOptions { ShowRawArchives = true, ImageMode = MountCommand.ParseImageMode("0444") });

        Assert.Equal(0x124u, Bounded.Io(() => Mode(mount.PathOf("vm/100/latest/disk.img"))));
        Assert.Equal(0x124u, Bounded.Io(() => Mode(mount.PathOf("host/h/latest/root.pxar.raw"))));
    }

    [FuseFact]
    public void AFifoManifestMakesOnlyThatSnapshotUnreadableAndNeverHangs()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var dir = Path.Combine(Store, "host/h/2001-01-01T00:00:00Z");
        Directory.CreateDirectory(dir);
        Posix.Mkfifo(Posix.PathBytes(Path.Combine(dir, DataStore.ManifestName)), 0x1A4);
        using var mount = new DatastoreMount(DataStore.OpenLocal(Store));

        var e = Assert.ThrowsAny<IOException>(() => Bounded.Io(() => File.ReadAllText(mount.PathOf("host/h/2001-01-01T00:00:00Z/index.json")), TimeSpan.FromSeconds(20)));
        Assert.IsNotType<TimeoutException>(e);
        Assert.Equal("hello\n", Bounded.Io(() => File.ReadAllText(mount.PathOf("host/h/latest/root.pxar/public.txt"))));
    }

    [Theory]
    [InlineData("0644")]
    [InlineData("0755")]
    [InlineData("abc")]
    [InlineData("")]
    public void ImageModeRefusesWriteAndExecuteBits(string text) =>
        Assert.Throws<BackupFs.Datastore.Formats.BackupFsException>(() => MountCommand.ParseImageMode(text));

    [FuseFact]
    public void BackgroundMountLogsToAPrivateFileCreatedFresh()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);

        var started = Bounded.Run(BackupFsProgram.Path, "mount", Store, mnt);
        Assert.True(started.ExitCode == 0, started.Stderr);
        var log = Regex.Match(started.Stdout, @"\(log: ([^)]+)\)").Groups[1].Value;
        try
        {
            Assert.False(log.StartsWith("/tmp/backupfs-mount-"), log);
            Assert.Equal(0x1C0u, Mode(Path.GetDirectoryName(log)!));
            Assert.Equal(0x180u, Mode(log));
            Assert.True(Posix.LStat(Posix.PathBytes(log)).IsRegular);
            Assert.True(Bounded.Eventually(() => File.ReadAllText(log).Contains("mounted"), TimeSpan.FromSeconds(10)));
        }
        finally
        {
            Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", mnt).ExitCode);
            File.Delete(log);
        }
    }

    [Fact]
    public void ALogNameTakenByAPlantedSymlinkIsNeverFollowed()
    {
        // The mount process opens its log with O_NOFOLLOW: a symlink swapped in for it is refused, its target untouched.
        var victim = _tmp.Sub("victim");
        File.WriteAllText(victim, "precious");
        var first = MountLog.Create();
        try
        {
            File.Delete(first);
            File.CreateSymbolicLink(first, victim);
            Assert.Throws<UnsafePathException>(() => MountLog.OpenExisting(first));
            Assert.Equal("precious", File.ReadAllText(victim));
        }
        finally { File.Delete(first); }
    }
}
