using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Tests.Fuse;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Empty spool files made ahead at reserved inode numbers: taken by number, private, never a leftover of an earlier process.</summary>
public class SpareSpoolFilesTests
{
    /// <summary>A supply in <paramref name="dir"/> whose numbers count up from <paramref name="first"/>.</summary>
    private static SpareSpoolFiles Supply(string dir, long first = 2, TimeSpan? idleExit = null)
    {
        long next = first;
        return new SpareSpoolFiles(dir, () => (ulong)Interlocked.Increment(ref next) - 1, n => Path.Combine(dir, n.ToString(System.Globalization.CultureInfo.InvariantCulture)), idleExit);
    }

    private static void WaitReady(SpareSpoolFiles spares, int atLeast)
    {
        var until = DateTime.UtcNow + Bound;
        while (spares.Ready < atLeast)
        {
            Assert.True(DateTime.UtcNow < until, $"{spares.Ready} spare spool files were made; the last failure: {spares.LastFailure ?? "none"}");
            Thread.Sleep(5);
        }
    }

    private static void Kick(SpareSpoolFiles spares) => spares.TryTake(out _); // starts the supply (usually nothing is ready yet)

    [Fact]
    public void ATakenSpareIsAnEmptyPrivateFileAtItsNumbersPath()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        using var spares = Supply(dir);
        Kick(spares);
        WaitReady(spares, SpareSpoolFiles.Target - 1); // the kick may take one made after the supply was full
        var numbers = new HashSet<ulong>();
        for (int i = 0; i < SpareSpoolFiles.Target + 10; i++)
        {
            if (!spares.TryTake(out var number)) continue; // the supply ran dry for a moment
            Assert.True(numbers.Add(number), $"number {number} was taken twice");
            var path = Path.Combine(dir, number.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(0, new FileInfo(path).Length);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        Assert.True(numbers.Count >= SpareSpoolFiles.Target - 1);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        WaitReady(spares, SpareSpoolFiles.RefillBelow); // topped up again
    }

    [Fact]
    public void ALeftoverAtAReservedNumberIsSkippedNeitherTruncatedNorFollowed()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        var outside = tmp.Sub("outside");
        Directory.CreateDirectory(dir);
        File.WriteAllText(outside, "not ours");
        File.WriteAllText(Path.Combine(dir, "5"), "left by an earlier process");
        File.CreateSymbolicLink(Path.Combine(dir, "6"), outside);
        using var spares = Supply(dir, first: 5);
        Kick(spares);
        WaitReady(spares, 10);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(spares.TryTake(out var number));
            Assert.True(number > 6, $"number {number} was taken over a leftover");
        }
        Assert.Equal("left by an earlier process", File.ReadAllText(Path.Combine(dir, "5")));
        Assert.Equal("not ours", File.ReadAllText(outside));
    }

    [Fact]
    public void ACreateWithoutASpareStepsOverLeftoversNeitherTruncatingNorFollowing()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("state/spool");
        Directory.CreateDirectory(dir);
        var outside = tmp.Sub("outside");
        File.WriteAllText(outside, "not ours");
        File.CreateSymbolicLink(Path.Combine(dir, "5"), outside);
        File.CreateSymbolicLink(Path.Combine(dir, "6"), tmp.Sub("nowhere")); // dangling
        Directory.CreateDirectory(Path.Combine(dir, "7"));
        File.WriteAllText(Path.Combine(dir, "8"), "left by a crashed mount");
        long next = 5;
        using var spool = new SessionSpool(dir, tmp.Path, () => (ulong)Interlocked.Increment(ref next) - 1);
        var (number, path) = spool.CreateFile(); // nothing is ready yet (or the supply skipped them too)
        Assert.True(number > 8, $"number {number} was given over a leftover");
        Assert.Equal(0, new FileInfo(path).Length);
        Assert.Equal("not ours", File.ReadAllText(outside));
        Assert.False(File.Exists(tmp.Sub("nowhere")));
        Assert.Equal("left by a crashed mount", File.ReadAllText(Path.Combine(dir, "8")));
    }

    [Fact]
    public void ABatchUnderWayAcrossForgetIsDeletedNotOfferedAndNothingIsMadeUntilAsked()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        using var gate = new ManualResetEventSlim(false);
        long next = 2, calls = 0;
        using var spares = new SpareSpoolFiles(dir, () =>
        {
            if (Interlocked.Increment(ref calls) == 3) gate.Wait(Bound); // two files made, the batch held
            return (ulong)Interlocked.Increment(ref next) - 1;
        }, n => Path.Combine(dir, n.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Kick(spares);
        Assert.True(Bounded.Eventually(() => Interlocked.Read(ref calls) >= 3, Bound), "the batch did not start");
        spares.Forget();
        gate.Set();
        Assert.True(Bounded.Eventually(() => !Directory.EnumerateFileSystemEntries(dir).Any(), Bound), "the forgotten batch was not deleted");
        Thread.Sleep(300);
        Assert.Equal(0, spares.Ready);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
        spares.TryTake(out _); // asking again starts the supply
        WaitReady(spares, 1);
    }

    [Fact]
    public void DisposingDeletesTheReadyFiles()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        var spares = Supply(dir);
        var taken = spares.TryTake(out var kicked) ? new[] { kicked.ToString(System.Globalization.CultureInfo.InvariantCulture) } : []; // a taken file is the caller's
        WaitReady(spares, 1);
        spares.Dispose();
        Assert.Equal(taken, Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName));
        Assert.False(spares.TryTake(out _));
    }

    [Fact]
    public void AfterForgetNoTakeNamesAFileThatWentWithTheDirectory()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        using var spares = Supply(dir);
        Kick(spares);
        WaitReady(spares, SpareSpoolFiles.Target - 1);
        Directory.Move(dir, tmp.Sub("aside")); // as a rebase drops the spool directory
        Directory.CreateDirectory(dir);
        spares.Forget();
        for (int i = 0; i < 50; i++)
        {
            if (spares.TryTake(out var number))
                Assert.True(File.Exists(Path.Combine(dir, number.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            Thread.Sleep(2);
        }
        WaitReady(spares, 10); // the supply goes on in the new directory
        Assert.True(spares.TryTake(out var later));
        Assert.True(File.Exists(Path.Combine(dir, later.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Fact]
    public void TakeIntoRenamesAReadyFileWithinTheDirectory()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        using var spares = Supply(dir);
        Kick(spares);
        WaitReady(spares, 1);
        var target = Path.Combine(dir, "7.1.copy");
        File.WriteAllText(target, "a leftover copy");
        Assert.True(spares.TryTakeInto(target));
        Assert.Equal(0, new FileInfo(target).Length);
    }

    [Fact]
    public void AnIdleWorkerEndsAndTheNextTakeStartsOneKeepingTheReadyFiles()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        using var spares = Supply(dir, idleExit: TimeSpan.FromMilliseconds(100));
        Kick(spares);
        WaitReady(spares, SpareSpoolFiles.Target - 1); // the kick may take one made after the supply was full
        var until = DateTime.UtcNow + Bound;
        while (spares.Running) { Assert.True(DateTime.UtcNow < until, "the idle worker did not end"); Thread.Sleep(20); }
        Assert.True(spares.Ready >= SpareSpoolFiles.Target - 1, $"{spares.Ready} ready after the worker ended");
        Assert.True(spares.TryTake(out _));
        Assert.True(spares.Running);
        Thread.Sleep(300);
        Assert.True(spares.TryTake(out var again));
        Assert.Equal(0, new FileInfo(Path.Combine(dir, again.ToString(System.Globalization.CultureInfo.InvariantCulture))).Length);
        Assert.True(spares.Ready >= SpareSpoolFiles.RefillBelow - 1);
    }

    [Fact]
    public void AFailingSupplyRecoversWithoutAnotherTake()
    {
        using var tmp = new TempDir();
        var dir = tmp.Sub("spool");
        File.WriteAllText(dir, "a file where the directory should be");
        using var spares = Supply(dir);
        Kick(spares);
        var until = DateTime.UtcNow + Bound;
        while (spares.LastFailure is null) { Assert.True(DateTime.UtcNow < until, "the supply did not try"); Thread.Sleep(5); }
        Assert.Equal(0, spares.Ready);
        File.Delete(dir); // the fault clears; no take follows
        WaitReady(spares, SpareSpoolFiles.Target);
    }

    [Fact]
    public void AMissingSessionDirectoryIsNotMadeAgain()
    {
        using var tmp = new TempDir();
        var session = tmp.Sub("discarded-session");
        using var spares = Supply(Path.Combine(session, "spool"));
        for (int i = 0; i < 5; i++)
        {
            Assert.False(spares.TryTake(out _));
            Thread.Sleep(20);
        }
        Assert.False(Directory.Exists(session));
    }

    [Fact]
    public void StagedFilesTakeSparesAtTheirOwnNumbersBeforeAndAfterACommit()
    {
        using var fx = new SessionFixture();
        var s = fx.Open();
        var numbers = new HashSet<ulong>();
        void CreateSome(string prefix)
        {
            for (int i = 0; i < 300; i++)
            {
                var f = Ok(Run(s.CreateFileAsync(s.Root, N(prefix + i), 0x1A4, 0, 0, 0, CancellationToken.None)));
                Assert.True(numbers.Add(f.Number), $"inode number {f.Number} given twice");
                Assert.Equal(f.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), Path.GetFileName(f.SpoolPath));
                Assert.Equal(0, new FileInfo(f.SpoolPath!).Length);
                if (i % 10 == 0) Assert.True(numbers.Add(Mkdir(s, s.Root, prefix + "d" + i).Number)); // numbers given meanwhile stay distinct
            }
        }
        CreateSome("f");
        var earlier = Path.Combine(s.StateDirectory, "spares"); // an earlier version's spare directory
        Directory.CreateDirectory(Path.Combine(earlier, "0"));
        File.WriteAllText(Path.Combine(earlier, "0", "spare-1"), "");
        WriteFile(s, s.Root, "content", N("kept"));
        Assert.NotNull(Run(s.CommitAsync(force: false, CancellationToken.None))); // the rebase drops the spool directory, ready files with it
        CreateSome("g");
        Assert.Equal("kept", System.Text.Encoding.UTF8.GetString(Read(s, Lookup(s, s.Root, "content"))));
        Assert.True(Bounded.Eventually(() => !Directory.Exists(earlier), Bound), "the earlier spares/ directory was not deleted");
    }
}
