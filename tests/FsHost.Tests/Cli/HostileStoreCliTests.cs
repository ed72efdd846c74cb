using System.Diagnostics;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Tests.Platform;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Cli;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>
/// The command line on a store someone else wrote: planted symlinks, a FIFO manifest, a far-future
/// backup time. Every failure is one plain "error: …" line, and nothing outside the store changes.
/// </summary>
public sealed class HostileStoreCliTests : IAsyncLifetime, IDisposable
{
    private readonly TempDir _tmp = new("backupfs-hostile-cli-");
    private string Store => _tmp.Sub("ds");
    private string Outside => _tmp.Sub("outside");

    public async Task InitializeAsync()
    {
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        File.WriteAllText(Path.Combine(src, "sub/file"), "content\n");
        await CliRunner.RunOkAsync("init", Store);
        await CliRunner.RunOkAsync("backup", Store, src, "--type", "host", "--id", "h");
        OutsideTree.Populate(Outside);
    }

    public Task DisposeAsync() => Task.CompletedTask;
    public void Dispose() => _tmp.Dispose();

    private static void AssertOneErrorLine(string err, string contains)
    {
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, err);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(contains, lines[0]);
    }

    [Fact]
    public async Task NsRemoveOfASymlinkedNamespaceIsRefusedAndDeletesNothingOutside()
    {
        var before = OutsideTree.Fingerprint(Outside);
        Directory.CreateDirectory(Path.Combine(Store, "ns"));
        File.CreateSymbolicLink(Path.Combine(Store, "ns/evil"), Outside);

        var (code, _, err) = await CliRunner.RunAsync("ns", "remove", Store, "evil", "--recursive");

        Assert.Equal(1, code);
        AssertOneErrorLine(err, "symbolic link");
        Assert.Equal(before, OutsideTree.Fingerprint(Outside));
    }

    [Fact]
    public async Task ForgetUnderASymlinkedGroupIsRefusedAndDeletesNothingOutside()
    {
        var before = OutsideTree.Fingerprint(Outside);
        File.CreateSymbolicLink(Path.Combine(Store, "host/y"), Path.Combine(Outside, "host/y"));

        var (code, _, err) = await CliRunner.RunAsync("forget", Store, "host/y/2020-01-01T00:00:00Z");

        Assert.Equal(1, code);
        AssertOneErrorLine(err, "symbolic link");
        Assert.Equal(before, OutsideTree.Fingerprint(Outside));
    }

    [Fact]
    public async Task NsRemovePrintsPlainLines()
    {
        await CliRunner.RunOkAsync("ns", "create", Store, "plain");
        var output = await CliRunner.RunOkAsync("ns", "remove", Store, "plain");
        Assert.Equal("removed namespace plain\nremoved 0 snapshot(s) in 0 group(s)\n", output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task RestoreFromAFifoManifestFailsAtOnce()
    {
        var dir = Path.Combine(Store, "host/fifo/2021-01-01T00:00:00Z");
        Directory.CreateDirectory(dir);
        Posix.Mkfifo(Posix.PathBytes(Path.Combine(dir, DataStore.ManifestName)), 0x1A4);
        var watch = Stopwatch.StartNew();

        var run = CliRunner.RunAsync("restore", Store, "host/fifo/2021-01-01T00:00:00Z", "root.pxar", _tmp.Sub("target"));
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))));

        var (code, _, err) = await run;
        Assert.Equal(1, code);
        AssertOneErrorLine(err, "FIFO");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task AManifestLinkedToDevZeroFailsWithoutReadingIt()
    {
        var dir = Path.Combine(Store, "host/zero/2021-01-01T00:00:00Z");
        Directory.CreateDirectory(dir);
        File.CreateSymbolicLink(Path.Combine(dir, DataStore.ManifestName), "/dev/zero");

        var (code, _, err) = await CliRunner.RunAsync("restore", Store, "host/zero/2021-01-01T00:00:00Z", "root.pxar", _tmp.Sub("target"));

        Assert.Equal(1, code);
        AssertOneErrorLine(err, "symbolic link");
    }

    [Fact]
    public async Task ABackupTimeInTheFarFutureIsRefusedBeforeTheStoreIsTouched()
    {
        var (code, _, err) = await CliRunner.RunAsync("backup", Store, _tmp.Sub("src"), "--type", "host", "--id", "future", "--time", "9999-12-31T23:59:59Z");

        Assert.Equal(1, code);
        AssertOneErrorLine(err, "in the future");
        Assert.False(Directory.Exists(Path.Combine(Store, "host/future")));
        // And a time after the year 9999 or before 1970 is no time at all.
        AssertOneErrorLine((await CliRunner.RunAsync("backup", Store, _tmp.Sub("src"), "--type", "host", "--id", "f", "--time", "0000-01-01T00:00:00Z")).Err, "invalid snapshot time");
    }

    [Fact]
    public async Task RestoreIntoAnExistingDirectoryKeepsItsOwnerAndModeUnlessOverwrite()
    {
        var target = _tmp.Sub("existing");
        Directory.CreateDirectory(target);
        File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead);
        Posix.LChown(Posix.PathBytes(target), 1234, 5678);

        await CliRunner.RunOkAsync("restore", Store, "host/h", "root.pxar", target);

        var st = Posix.LStat(Posix.PathBytes(target));
        Assert.Equal((0x1E0u, 1234u, 5678u), (st.Mode & 0xFFF, st.Uid, st.Gid));
        Assert.Equal("content\n", File.ReadAllText(Path.Combine(target, "sub/file")));

        await CliRunner.RunOkAsync("restore", Store, "host/h", "root.pxar", target, "--overwrite");
        var archived = Posix.LStat(Posix.PathBytes(_tmp.Sub("src")));
        st = Posix.LStat(Posix.PathBytes(target));
        Assert.Equal((archived.Mode & 0xFFF, archived.Uid), (st.Mode & 0xFFF, st.Uid));
    }

    [Theory]
    [InlineData("nosuchcommand")]
    [InlineData("restore")]
    [InlineData("ns", "remove")]
    [InlineData("mount", "--no-such-option")]
    [InlineData("prune", "STORE", "host/h", "--keep-last", "-3")]
    [InlineData("gc", "STORE", "--cutoff-seconds", "-1")]
    [InlineData("mount", "STORE", "MNT", "--threads", "0")]
    [InlineData("mount", "STORE", "MNT", "--cache-mb", "-5")]
    public async Task ParseErrorsAreOneLine(params string[] args)
    {
        var (code, output, err) = await CliRunner.RunAsync(args);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        AssertOneErrorLine(err, "--help");
    }

    [Fact]
    public void AnUnexpectedExceptionIsOneLineWithoutItsDotNetText()
    {
        var line = UserFacingError.Describe(new ArgumentOutOfRangeException("seconds", "Valid values are between -62135596800 and 253402300799, inclusive."));
        Assert.DoesNotContain("\n", line);
        Assert.DoesNotContain("Valid values", line);
        Assert.Contains("internal error", line);
    }
}
