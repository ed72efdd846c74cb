using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Tests.Layout;

public class NameRulesTests
{
    [Theory]
    [InlineData("web1")] [InlineData("100")] [InlineData("a.b-c_d")] [InlineData("_x")]
    public void ValidIdsPass(string id) => Assert.True(NameRules.IsBackupId(id));

    [Theory]
    [InlineData("")] [InlineData("..")] [InlineData(".hidden")] [InlineData("-x")] [InlineData("a/b")]
    [InlineData("a b")] [InlineData("a\nb")] [InlineData("ä")]
    public void BadIdsAreRefused(string id)
    {
        Assert.False(NameRules.IsBackupId(id));
        Assert.Throws<InvalidNameException>(() => new BackupGroup(BackupNamespace.Root, BackupType.Host, id));
    }

    [Fact]
    public void BackupTimeRoundTrips()
    {
        Assert.Equal("2025-07-14T14:20:02Z", NameRules.FormatBackupTime(1752502802));
        Assert.Equal(1752502802, NameRules.ParseBackupTime("2025-07-14T14:20:02Z"));
        Assert.False(NameRules.TryParseBackupTime("2025-07-14T14:20:02+01:00", out _));
        Assert.False(NameRules.TryParseBackupTime("2025-13-14T14:20:02Z", out _));
        Assert.Throws<InvalidNameException>(() => NameRules.FormatBackupTime(0));
    }

    [Fact]
    public void NamespacesMapToNestedNsDirectories()
    {
        var ns = BackupNamespace.Parse("a/b/c");
        Assert.Equal("ns/a/ns/b/ns/c", ns.RelativePath);
        Assert.Equal("a/b/c", ns.Display);
        Assert.Equal("", BackupNamespace.Root.RelativePath);
        Assert.Throws<InvalidNameException>(() => BackupNamespace.Parse("a/../b"));
        Assert.Throws<InvalidNameException>(() => BackupNamespace.Parse("1/2/3/4/5/6/7/8"));
        Assert.Equal(7, BackupNamespace.Parse("1/2/3/4/5/6/7").Depth);
    }

    [Fact]
    public void SnapshotPathsParseWithAndWithoutNamespace()
    {
        var s = SnapshotRef.Parse("ns/team/host/vectors/2025-11-24T17:00:00Z");
        Assert.Equal("team", s.Group.Namespace.Display);
        Assert.Equal(BackupType.Host, s.Group.Type);
        Assert.Equal("vectors", s.Group.Id);
        Assert.Equal("ns/team/host/vectors/2025-11-24T17:00:00Z", s.RelativePath);
        Assert.Equal("vm/100/2025-11-24T18:00:00Z", SnapshotRef.Parse("vm/100/2025-11-24T18:00:00Z").RelativePath);
        Assert.Throws<InvalidNameException>(() => SnapshotRef.Parse("vm/../2025-11-24T18:00:00Z"));
        Assert.Throws<InvalidNameException>(() => SnapshotRef.Parse("disk/100/2025-11-24T18:00:00Z"));
        Assert.Throws<InvalidNameException>(() => SnapshotRef.Parse("vm/100"));
    }

    [Fact]
    public void ServerArchiveNamesFollowPbsMapping()
    {
        Assert.Equal("root.pxar.didx", NameRules.ToServerArchiveName("root.pxar"));
        Assert.Equal("drive-scsi0.img.fidx", NameRules.ToServerArchiveName("drive-scsi0.img"));
        Assert.Equal("qemu-server.conf.blob", NameRules.ToServerArchiveName("qemu-server.conf"));
        Assert.Equal("root.mpxar.didx", NameRules.ToServerArchiveName("root.mpxar.didx"));
        Assert.Throws<InvalidNameException>(() => NameRules.ToServerArchiveName("../x.pxar"));
        Assert.Throws<InvalidNameException>(() => NameRules.ToServerArchiveName("x.exe"));
    }

    [Fact]
    public void GroupsSortLikePbs()
    {
        var groups = new[] { "vm/100", "host/b", "ct/200", "vm/20", "vm/abc", "host/a" }
            .Select(g => BackupGroup.Parse(g)).ToList();
        groups.Sort(BackupGroup.Compare);
        Assert.Equal(new[] { "ct/200", "host/a", "host/b", "vm/20", "vm/100", "vm/abc" }, groups.Select(g => g.Display));
    }
}
