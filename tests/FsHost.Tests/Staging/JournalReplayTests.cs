using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Vfs;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Replaying a session's journal over its base gives the tree the live changes gave.</summary>
public class JournalReplayTests : IDisposable
{
    private readonly SessionFixture _f = new();
    public void Dispose() => _f.Dispose();

    private static CancellationToken None => CancellationToken.None;

    [Fact]
    public void ReplayEqualsLiveApplyOverAnEmptyStart()
    {
        var s = _f.Open();
        Changes(s, baseTree: false);
        string live = Describe(s);
        s.Dispose();
        Assert.Equal(live, Describe(_f.Open()));
    }

    [Fact]
    public void ReplayEqualsLiveApplyOverABase()
    {
        var src = _f.Temp("src");
        Directory.CreateDirectory(Path.Combine(src, "keep", "deep"));
        File.WriteAllText(Path.Combine(src, "keep", "deep", "x"), "base x");
        File.WriteAllText(Path.Combine(src, "keep", "y"), "base y");
        BackupFs.Datastore.Platform.Posix.Link(N(Path.Combine(src, "keep", "y")), N(Path.Combine(src, "y2")));
        _f.CommitLocal(src);
        var s = _f.Open();
        Changes(s, baseTree: true);
        string live = Describe(s);
        s.Dispose();
        Assert.Equal(live, Describe(_f.Open()));
    }

    [Fact]
    public void ReplayRemakesALostSpoolFileButNeverThroughALinkInItsPlace()
    {
        var s = _f.Open();
        var lost = Ok(Run(s.CreateFileAsync(s.Root, N("lost"), 0x1A4, 0, 0, 0, None)));
        var linked = Ok(Run(s.CreateFileAsync(s.Root, N("linked"), 0x1A4, 0, 0, 0, None)));
        string lostSpool = lost.SpoolPath!, linkedSpool = linked.SpoolPath!;
        s.Dispose();
        File.Delete(lostSpool);
        File.Delete(linkedSpool);
        var outside = _f.Temp("outside-target");
        File.CreateSymbolicLink(linkedSpool, outside); // dangling: following it would create a file outside the store
        var again = _f.Open();
        Assert.True(File.Exists(lostSpool));
        Assert.Equal(0, new FileInfo(lostSpool).Length);
        Assert.False(File.Exists(outside));
        Assert.Equal(outside, new FileInfo(linkedSpool).LinkTarget);
        again.Dispose();
    }

    /// <summary>One of each change, including ones on base inodes (bound by the journal) and on a file written twice.</summary>
    private static void Changes(StagingSession s, bool baseTree)
    {
        var d = Mkdir(s, s.Root, "d");
        var f = WriteFile(s, d, "f", "hello"u8.ToArray());
        Overwrite(s, f, "hello again"u8.ToArray());
        Ok(Run(s.SymlinkAsync(d, N("sym"), N("f"), 5, 6, None)));
        Ok(Run(s.MakeSpecialAsync(d, N("fifo"), FileModes.Fifo | 0x1A4, 0x12, 0, 0, 0, 0, None)));
        Ok(Run(s.LinkAsync(f, s.Root, N("f-link"), None)));
        Assert.Equal(Errno.Ok, Run(s.SetXattrAsync(f, N("user.k"), N("v"), 0, None)));
        Assert.Equal(Errno.Ok, Run(s.RenameAsync(d, N("f"), s.Root, N("moved"), 0, None)));
        var g = WriteFile(s, s.Root, "gone", "bye"u8.ToArray());
        Assert.Equal(Errno.Ok, Run(s.UnlinkAsync(s.Root, N("gone"), false, None)));
        Assert.True(Run(s.SetAttributesAsync(f, new SetAttributesRequest { Fields = SetAttributeFields.Mode | SetAttributeFields.Uid, Mode = 0x1C0, Uid = 42 }, None)).IsOk);
        if (!baseTree) return;
        var keep = Lookup(s, s.Root, "keep");
        var x = Lookup(s, Lookup(s, keep, "deep"), "x");
        Overwrite(s, x, "changed x"u8.ToArray());
        Assert.True(Run(s.SetAttributesAsync(Lookup(s, keep, "y"), new SetAttributesRequest { Fields = SetAttributeFields.Size, Size = 2 }, None)).IsOk);
        Assert.Equal(Errno.Ok, Run(s.RenameAsync(s.Root, N("keep"), d, N("kept"), 0, None)));
        Assert.Equal(Errno.Ok, Run(s.SetXattrAsync(keep, N("user.dir"), N("1"), 0, None)));
    }
}
