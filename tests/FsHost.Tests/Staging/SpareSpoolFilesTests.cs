using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Staging;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Empty spool files made ahead of need: renamed into place, private, never a leftover of an earlier process.</summary>
public class SpareSpoolFilesTests
{
    private static void WaitReady(SpareSpoolFiles spares, int atLeast)
    {
        var until = DateTime.UtcNow + Bound;
        while (spares.Ready < atLeast)
        {
            Assert.True(DateTime.UtcNow < until, $"{spares.Ready} spare spool files were made; the last failure: {spares.LastFailure ?? "none"}");
            Thread.Sleep(5);
        }
    }

    [Fact]
    public void ATakenSpareIsAnEmptyPrivateFileAtThePath()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spares");
        using var spares = new SpareSpoolFiles(dir);
        spares.TryTake(tmp.Sub("first")); // starts the supply (usually nothing is ready yet: the caller creates its own)
        WaitReady(spares, SpareSpoolFiles.Target - 1); // the kick may take one made after the supply was full
        for (int i = 0; i < SpareSpoolFiles.Target + 10; i++)
        {
            var path = tmp.Sub("f" + i);
            if (!spares.TryTake(path)) continue; // the supply ran dry for a moment
            var info = new FileInfo(path);
            Assert.Equal(0, info.Length);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        WaitReady(spares, SpareSpoolFiles.RefillBelow); // topped up again
    }

    [Fact]
    public void LeftoversOfAnEarlierProcessAreDeletedNotUsed()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spares");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "spare-1"), "not empty");
        File.WriteAllText(Path.Combine(dir, "spare-7"), "not empty");
        using var spares = new SpareSpoolFiles(dir);
        spares.TryTake(tmp.Sub("kick"));
        WaitReady(spares, 10);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(spares.TryTake(tmp.Sub("f" + i)));
            Assert.Equal(0, new FileInfo(tmp.Sub("f" + i)).Length);
        }
    }

    [Fact]
    public void DisposingDeletesTheReadyFiles()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spares");
        var spares = new SpareSpoolFiles(dir);
        spares.TryTake(tmp.Sub("kick"));
        WaitReady(spares, 1);
        spares.Dispose();
        Assert.Empty(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories));
        Assert.False(spares.TryTake(tmp.Sub("after")));
    }

    [Fact]
    public void AnIdleWorkerEndsAndTheNextTakeStartsOneKeepingTheReadyFiles()
    {
        using var tmp = new TempDir();
        using var spares = new SpareSpoolFiles(tmp.Sub("spares"), idleExit: TimeSpan.FromMilliseconds(100));
        spares.TryTake(tmp.Sub("kick"));
        WaitReady(spares, SpareSpoolFiles.Target - 1); // the kick may take one made after the supply was full
        var until = DateTime.UtcNow + Bound;
        while (spares.Running) { Assert.True(DateTime.UtcNow < until, "the idle worker did not end"); Thread.Sleep(20); }
        Assert.True(spares.Ready >= SpareSpoolFiles.Target - 1, $"{spares.Ready} ready after the worker ended");
        Assert.True(spares.TryTake(tmp.Sub("after-idle")));
        Assert.True(spares.Running);
        Thread.Sleep(300); // a restarted worker must not take the ready files for leftovers
        Assert.True(spares.TryTake(tmp.Sub("again")));
        Assert.Equal(0, new FileInfo(tmp.Sub("again")).Length);
        Assert.True(spares.Ready >= SpareSpoolFiles.RefillBelow - 1);
    }

    [Fact]
    public void AFailingSupplyRecoversWithoutAnotherTake()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spares");
        File.WriteAllText(dir, "a file where the directory should be");
        using var spares = new SpareSpoolFiles(dir);
        spares.TryTake(tmp.Sub("kick"));
        var until = DateTime.UtcNow + Bound;
        while (spares.LastFailure is null) { Assert.True(DateTime.UtcNow < until, "the supply did not try"); Thread.Sleep(5); }
        Assert.Equal(0, spares.Ready);
        File.Delete(dir); // the fault clears; no take follows
        WaitReady(spares, SpareSpoolFiles.Target);
    }

    [Fact]
    public void ABucketThatIsASymlinkIsNeitherFilledNorEmptied()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spares");
        var outside = tmp.Sub("outside");
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "spare-3"), "not ours");
        File.CreateSymbolicLink(Path.Combine(dir, "0"), outside);
        using var spares = new SpareSpoolFiles(dir);
        spares.TryTake(tmp.Sub("kick"));
        WaitReady(spares, SpareSpoolFiles.Target - 1); // the other buckets fill it
        Assert.NotNull(spares.LastFailure);
        Assert.Equal(["spare-3"], Directory.EnumerateFileSystemEntries(outside).Select(Path.GetFileName));
        Assert.Equal("not ours", File.ReadAllText(Path.Combine(outside, "spare-3")));
        Assert.True(spares.TryTake(tmp.Sub("taken")));
        Assert.Equal(0, new FileInfo(tmp.Sub("taken")).Length);
    }

    [Fact]
    public void SparesAreMadeInSeveralBucketsSoTakesAndMakesUseDifferentDirectories()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spares");
        using var spares = new SpareSpoolFiles(dir);
        spares.TryTake(tmp.Sub("kick"));
        WaitReady(spares, SpareSpoolFiles.Target - 1);
        var buckets = Directory.EnumerateDirectories(dir).Where(b => Directory.EnumerateFiles(b).Any()).Count();
        Assert.True(buckets >= SpareSpoolFiles.Target / 32, $"{buckets} buckets hold spares");
        Assert.Empty(Directory.EnumerateFiles(dir)); // none at the top, where an earlier layout made them
    }

    [Fact]
    public void AMissingSessionDirectoryIsNotMadeAgain()
    {
        using var tmp = new TempDir();
        var session = tmp.Sub("discarded-session");
        using var spares = new SpareSpoolFiles(Path.Combine(session, "spares"));
        for (int i = 0; i < 5; i++)
        {
            Assert.False(spares.TryTake(tmp.Sub("f")));
            Thread.Sleep(20);
        }
        Assert.False(Directory.Exists(session));
    }

    [Fact]
    public void StagedFilesAreCreatedFromSparesAndReadBackExactly()
    {
        using var fx = new SessionFixture();
        var s = fx.Open();
        for (int i = 0; i < 300; i++)
        {
            var f = Ok(Run(s.CreateFileAsync(s.Root, N("f" + i), 0x1A4, 0, 0, 0, CancellationToken.None)));
            Assert.NotNull(f.SpoolPath);
            Assert.Equal(0, new FileInfo(f.SpoolPath!).Length);
        }
        var spares = Path.Combine(s.StateDirectory, "spares");
        Assert.True(Directory.Exists(spares));
        Assert.DoesNotContain(Directory.EnumerateFiles(s.SpoolDirectory), p => Path.GetFileName(p).StartsWith("spare-", StringComparison.Ordinal));
    }
}
