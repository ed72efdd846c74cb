using BackupFs.FsHost.Staging;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Spool files after a commit: dropped in the background, never mixed with the files written after it.</summary>
public class SessionSpoolTests
{
    private static CancellationToken None => CancellationToken.None;

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, what);
            Thread.Sleep(10);
        }
    }

    [Fact]
    public void ARebaseDropsTheSpoolFilesAsideAndLaterFilesStay()
    {
        using var fx = new SessionFixture(new StagingOptions { CommitDelay = TimeSpan.FromHours(1), PrepareFilesFrom = 0 });
        var s = fx.Open();
        var old = new List<string>();
        for (int i = 0; i < 20; i++) old.Add(WriteFile(s, s.Root, "f" + i, new byte[100_000].Select(b => (byte)i).ToArray()).SpoolPath!);
        Assert.All(old, p => Assert.True(File.Exists(p)));
        Assert.NotNull(Run(s.CommitAsync(force: false, None)));
        // The session is the snapshot now: its files read from the base, the spool directory holds no content at once
        // (at most empty files made ahead for later creates).
        Assert.All(Directory.EnumerateFiles(s.SpoolDirectory), f => Assert.Equal(0, new FileInfo(f).Length));
        var fresh = WriteFile(s, s.Root, "new", N("after the commit"));
        Assert.Equal(N("after the commit"), Read(s, fresh));
        Assert.Equal(new byte[100_000].Select(b => (byte)7).ToArray(), Read(s, Lookup(s, s.Root, "f7")));
        var state = Path.GetDirectoryName(s.SpoolDirectory)!;
        WaitUntil(() => !Directory.EnumerateDirectories(state, "spool.dropped-*").Any(), "the dropped spool directory was not deleted");
        Assert.True(File.Exists(fresh.SpoolPath!));
        Assert.All(old, p => Assert.False(File.Exists(p)));
    }

    [Fact]
    public void ADiscardAfterACommitLeavesNoStateBehind()
    {
        using var fx = new SessionFixture(new StagingOptions { CommitDelay = TimeSpan.FromHours(1), PrepareFilesFrom = 0 });
        var s = fx.Open();
        for (int i = 0; i < 10; i++) WriteFile(s, s.Root, "f" + i, new byte[200_000]);
        Assert.NotNull(Run(s.CommitAsync(force: false, None)));
        WriteFile(s, s.Root, "later", N("x"));
        Assert.Equal(Vfs.Errno.Ok, Run(s.DiscardAsync(None)));
        Assert.False(Directory.Exists(s.StateDirectory));
    }
}
