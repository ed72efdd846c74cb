using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.FsHost.Cli;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>The one parser behind every namespace, group and snapshot argument: each accepted form, each refusal and its message.</summary>
public class BackupPathArgumentTests
{
    private const string Time = "2025-07-14T14:20:02Z";
    private static readonly long Epoch = NameRules.ParseBackupTime(Time);

    [Theory]
    [InlineData("host/web1", null, "", "host", "web1", false)]
    [InlineData("host/web1/", null, "", "host", "web1", false)]
    [InlineData("vm/100/" + Time, null, "", "vm", "100", true)]
    [InlineData("ct/7/" + Time + "/", null, "", "ct", "7", true)]
    [InlineData("ns/team/host/web1/" + Time, null, "team", "host", "web1", true)]
    [InlineData("ns/a/ns/b/host/web1", null, "a/b", "host", "web1", false)]
    [InlineData("ns/ns/host/web1", null, "ns", "host", "web1", false)]
    [InlineData("host/web1/" + Time, "team/a", "team/a", "host", "web1", true)]
    [InlineData("host/web1", "team/a/", "team/a", "host", "web1", false)]
    [InlineData("ns/team/host/web1", "/", "team", "host", "web1", false)]
    [InlineData("ns/team/host/web1", "", "team", "host", "web1", false)]
    public void AcceptedForms(string text, string? ns, string space, string type, string id, bool hasTime)
    {
        var (group, time) = BackupPathArgument.Parse(text, ns);
        Assert.Equal(space, group.Namespace.Display);
        Assert.Equal(type, group.Type.ToName());
        Assert.Equal(id, group.Id);
        Assert.Equal(hasTime ? Epoch : null, time);
    }

    [Theory]
    [InlineData("/host/web1/" + Time, null, "SNAPSHOT '/host/web1/2025-07-14T14:20:02Z' is an absolute path; give it relative to the datastore")]
    [InlineData("host/../../etc/" + Time, null, "SNAPSHOT 'host/../../etc/2025-07-14T14:20:02Z' contains '.' or '..'")]
    [InlineData("./host/web1", null, "contains '.' or '..'")]
    [InlineData("ns/../host/web1", null, "contains '.' or '..'")]
    [InlineData("host//web1", null, "SNAPSHOT 'host//web1' has an empty component")]
    [InlineData("", null, "SNAPSHOT is empty")]
    [InlineData("host", null, "SNAPSHOT 'host' is not [ns/<name>/...]<type>/<id>[/<YYYY-MM-DDTHH:MM:SSZ>]")]
    [InlineData("ns/team", null, "SNAPSHOT 'ns/team' is not")]
    [InlineData("host/web1/" + Time + "/root.pxar", null, "is not [ns/<name>/...]")]
    [InlineData("disk/web1", null, "invalid backup type 'disk' (expected vm, ct or host)")]
    [InlineData("host/-web1", null, "invalid backup id '-web1'")]
    [InlineData("host/web1/latest", null, "invalid snapshot time 'latest' (expected YYYY-MM-DDTHH:MM:SSZ)")]
    [InlineData("host/web1/2025-13-01T00:00:00Z", null, "invalid snapshot time")]
    [InlineData("ns/bad!/host/web1", null, "invalid namespace component 'bad!'")]
    [InlineData("ns/team/host/web1", "other", "give the namespace either in SNAPSHOT (ns/<name>/...) or with --ns, not both")]
    [InlineData("host/web1", "/team", "--ns '/team' starts with '/'")]
    [InlineData("host/web1", "a/../b", "--ns 'a/../b' contains '.' or '..'")]
    public void RefusedForms(string text, string? ns, string message)
    {
        var e = Assert.Throws<InvalidNameException>(() => BackupPathArgument.Parse(text, ns));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AnOverlongPathIsRefusedBeforeItIsSplit()
    {
        var e = Assert.Throws<InvalidNameException>(() => BackupPathArgument.Parse("host/" + new string('a', 2000), null));
        Assert.Equal("SNAPSHOT is longer than 1024 characters", e.Message);
        var n = Assert.Throws<InvalidNameException>(() => BackupPathArgument.Namespace(new string('a', 2000)));
        Assert.Equal("--ns is longer than 1024 characters", n.Message);
        // Within the bound, each component's own limit speaks.
        Assert.Contains("invalid backup id", Assert.Throws<InvalidNameException>(() => BackupPathArgument.Parse("host/" + new string('a', 300), null)).Message);
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("", "")]
    [InlineData("/", "")]
    [InlineData("team", "team")]
    [InlineData("team/a", "team/a")]
    [InlineData("team/a/", "team/a")]
    [InlineData("ns/team", "ns/team")] // the display form: two namespaces, "ns" and "team"
    public void NamespacesInDisplayForm(string? text, string display) =>
        Assert.Equal(display, BackupPathArgument.Namespace(text).Display);

    [Theory]
    [InlineData("/team", "NAME '/team' starts with '/'")]
    [InlineData("team/../x", "NAME 'team/../x' contains '.' or '..'")]
    [InlineData("team//a", "NAME 'team//a' has an empty component")]
    [InlineData("a/b/c/d/e/f/g/h", "is deeper than 7 levels")]
    [InlineData("-x", "invalid namespace component '-x'")]
    public void RefusedNamespaces(string text, string message)
    {
        var e = Assert.Throws<InvalidNameException>(() => BackupPathArgument.Namespace(text, "NAME"));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AGroupArgumentRefusesASnapshot()
    {
        Assert.Equal(new BackupGroup(BackupNamespace.Parse("team"), BackupType.Host, "web1"), BackupPathArgument.Group("ns/team/host/web1", null));
        var e = Assert.Throws<InvalidNameException>(() => BackupPathArgument.Group("host/web1/" + Time, null));
        Assert.Equal("GROUP 'host/web1/2025-07-14T14:20:02Z' names a snapshot; give its group, e.g. host/web1", e.Message);
    }

    [Fact]
    public void BackupTypeAndIdGoThroughTheSameRules()
    {
        Assert.Equal(new BackupGroup(BackupNamespace.Root, BackupType.Vm, "100"), BackupPathArgument.Group(BackupNamespace.Root, "vm", "100"));
        Assert.Contains("invalid backup type 'disk'", Assert.Throws<InvalidNameException>(() => BackupPathArgument.Group(BackupNamespace.Root, "disk", "x")).Message);
        Assert.Contains("invalid backup id '../etc'", Assert.Throws<InvalidNameException>(() => BackupPathArgument.Group(BackupNamespace.Root, "host", "../etc")).Message);
    }

    [Fact]
    public void ForgetTakesOnlyAnExplicitSnapshot()
    {
        var snap = BackupPathArgument.ExplicitSnapshot("ns/team/host/web1/" + Time, null, "forget");
        Assert.Equal("ns/team/host/web1/" + Time, snap.RelativePath);
        var e = Assert.Throws<InvalidNameException>(() => BackupPathArgument.ExplicitSnapshot("host/web1", null, "forget"));
        Assert.Equal("forget needs an explicit snapshot, <type>/<id>/<YYYY-MM-DDTHH:MM:SSZ>; 'host/web1' is a group (see its snapshots with 'backupfs snapshots')", e.Message);
    }
}
