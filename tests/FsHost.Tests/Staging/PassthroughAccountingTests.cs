using BackupFs.FsHost.Staging;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>
/// Under passthrough the kernel writes spool files without telling the session: sizes, times and the
/// content version are read back from the spool file (no kernel here: the test writes the spool file itself).
/// </summary>
public class PassthroughAccountingTests
{
    private static CancellationToken None => CancellationToken.None;

    private static void KernelWrites(StagedInode inode, long offset, byte[] data)
    {
        using var f = new FileStream(inode.SpoolPath!, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        f.Seek(offset, SeekOrigin.Begin);
        f.Write(data);
    }

    private static SessionFixture PassingThrough()
    {
        var fx = new SessionFixture();
        fx.Context.KernelPassesThrough = true;
        return fx;
    }

    /// <summary>A new file "f", open for writing.</summary>
    private static (StagedInode File, StagedFileHandle Handle) CreateOpen(StagingSession s)
    {
        var f = Ok(Run(s.CreateFileAsync(s.Root, N("f"), 0x1A4, 0, 0, 0, None)));
        return (f, Run(s.OpenAsync(f, 2, None)).Value);
    }

    [Fact]
    public void WritesTheSessionDidNotSeeShowAtGetattrAndReleaseAndSurviveAReplay()
    {
        using var fx = PassingThrough();
        var s = fx.Open();
        var (f, h) = CreateOpen(s);
        long version = f.ContentVersion;
        KernelWrites(f, 0, N("passed through"));
        Assert.True(s.RefreshFromSpool(f)); // what getattr does while the writer is open
        Assert.Equal(14, f.Size);
        Assert.NotEqual(version, f.ContentVersion);
        Assert.False(s.RefreshFromSpool(f)); // nothing new
        KernelWrites(f, 14, N("!"));
        Run(s.ReleaseAsync(h, None));
        Assert.Equal(15, f.Size);
        var mtime = f.ModificationTime;
        s.Dispose();
        var again = fx.Open(); // replayed from the journal and the spool file
        var g = Lookup(again, again.Root, "f");
        Assert.Equal(15, g.Size);
        Assert.Equal(mtime, g.ModificationTime);
        Assert.Equal(N("passed through!"), Read(again, g));
    }

    [Fact]
    public void TimesSetWhileAWriterIsOpenStayAfterItsRelease()
    {
        using var fx = PassingThrough();
        var s = fx.Open();
        var (f, h) = CreateOpen(s);
        KernelWrites(f, 0, new byte[5000]);
        var set = new Vfs.Timestamp(1_600_000_000, 5);
        Assert.True(Run(s.SetAttributesAsync(f, new Vfs.SetAttributesRequest(Vfs.SetAttributeFields.ModificationTime, 0, 0, 0, 0, default, set, 0), None)).IsOk);
        Run(s.ReleaseAsync(h, None));
        Assert.Equal(set, f.ModificationTime);
        Assert.Equal(5000, f.Size);
    }

    [Fact]
    public void AWriterThatLeftNoTraceStillMovesTheContentVersion()
    {
        using var fx = PassingThrough();
        var s = fx.Open();
        var f = WriteFile(s, s.Root, "f", N("content"));
        long version = f.ContentVersion;
        var h = Run(s.OpenAsync(f, 2, None)).Value;
        Run(s.ReleaseAsync(h, None));
        Assert.NotEqual(version, f.ContentVersion); // what was prepared before is not trusted any more
        Assert.Equal(N("content"), Read(s, f));
    }
}
