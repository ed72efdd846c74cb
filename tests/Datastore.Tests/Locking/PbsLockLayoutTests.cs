using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Locking;

/// <summary>Lock file names, checked against the examples in PBS's documentation of its lock paths.</summary>
public sealed class PbsLockLayoutTests
{
    private static readonly long May2nd = DateTimeOffset.Parse("2022-05-02T08:11:33Z").ToUnixTimeSeconds();

    [Fact]
    public void GroupAndSnapshotNamesAreSystemdEscapedPaths()
    {
        var group = BackupGroup.Parse("vm/100");
        Assert.Equal("vm-100", PbsLockLayout.RelativeLockPath(group.Namespace, "vm/100"));
        Assert.Equal(@"vm-100-2022\x2d05\x2d02T08\x3a11\x3a33Z",
            PbsLockLayout.RelativeLockPath(BackupNamespace.Root, "vm/100/2022-05-02T08:11:33Z"));
        var ns = BackupNamespace.Parse("ns1/ns2/ns3/ns4/ns5/ns6/ns7");
        Assert.Equal(@"ns1:ns2:ns3:ns4:ns5:ns6:ns7/vm-100-2022\x2d05\x2d02T08\x3a11\x3a33Z",
            PbsLockLayout.RelativeLockPath(ns, "vm/100/2022-05-02T08:11:33Z"));
    }

    [Theory]
    [InlineData("host/web-1", @"host-web\x2d1")]
    [InlineData("host/.hidden", @"host-.hidden")]
    [InlineData(".x/y", @"\x2ex-y")]
    [InlineData("ct/a b+c", @"ct-a\x20b\x2bc")]
    [InlineData("host/ü", @"host-\xc3\xbc")]
    public void EscapingFollowsSystemdRules(string path, string expected) =>
        Assert.Equal(expected, SystemdEscape.EscapePath(path));

    [Fact]
    public void LongNamesAreHashedIntoTheirOwnDirectory()
    {
        var id = new string('a', 200) + "-" + new string('b', 100);
        var rel = PbsLockLayout.RelativeLockPath(BackupNamespace.Parse("team"), "host/" + id);
        Assert.StartsWith("team/hashed/", rel);
        Assert.Equal(PbsStyleLocks.Escape("host/" + id), PbsStyleLocks.Escape("host/" + id));
        using var tmp = new TempDir();
        using var pbs = new PbsStyleLocks(tmp.Path);
        Assert.Equal(pbs.LockFile("st", "team", "host/" + id), Path.Combine(pbs.LockRoot, "st", rel));
    }

    [Fact]
    public void ManifestAndSnapshotLockFilesMatchPbs()
    {
        using var tmp = new TempDir();
        using var pbs = new PbsStyleLocks(tmp.Path);
        var snap = new SnapshotRef(BackupGroup.Parse("vm/100", BackupNamespace.Parse("a/b")), May2nd);
        Assert.Equal(Path.Combine(pbs.LockRoot, "store1", "a:b", @"vm-100-2022\x2d05\x2d02T08\x3a11\x3a33Z-.index.json.lck"),
            PbsLockLayout.ManifestLockFile("store1", snap));
        Assert.Equal(pbs.LockFile("store1", "a/b", "vm/100/2022-05-02T08:11:33Z"), PbsLockLayout.SnapshotLockFile("store1", snap));
        Assert.Equal(pbs.LockFile("store1", "", "vm/100"), PbsLockLayout.GroupLockFile("store1", BackupGroup.Parse("vm/100")));
    }

    [Fact]
    public void TheDatastoreNameComesFromPbsConfigWhenItKnowsThePath()
    {
        using var tmp = new TempDir();
        var cfg = tmp.Sub("datastore.cfg");
        File.WriteAllText(cfg, "datastore: other\n\tpath /srv/other\n\ndatastore: pbs-main\n\tcomment x\n\tpath " + tmp.Sub("store") + "/\n\tgc-schedule daily\n");
        Assert.Equal("pbs-main", PbsDatastoreName.FromConfig(cfg, tmp.Sub("store")));
        Assert.Null(PbsDatastoreName.FromConfig(cfg, tmp.Sub("elsewhere")));
        Assert.Null(PbsDatastoreName.FromConfig(tmp.Sub("missing.cfg"), tmp.Sub("store")));
    }
}
