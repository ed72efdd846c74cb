using BackupFs.Datastore.Maintenance;
using static BackupFs.Datastore.Tests.Maintenance.PruneTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>
/// The scenarios of PBS's own tests/prune.rs (test_prune_simple, test_prune_simple2,
/// test_prune_hourly, test_prune_protected), as tables of the snapshots kept per option set.
/// PBS runs them in the build machine's local zone; the times are whole hours apart from
/// midnight, so UTC reproduces them. They call compute_prune_info directly, hence ComputeMarks.
/// </summary>
public class PruneSelectorPbsScenarioTests
{
    private static readonly PruneCandidate[] Simple = Snapshots(
        "2019-12-02T11:59:15Z",
        "2019-12-03T11:59:15Z",
        "2019-12-04T11:59:15Z",
        "2019-12-04T12:59:15Z");

    [Theory]
    [InlineData("last=4", new[] { "2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z", "2019-12-04T12:59:15Z" })]
    [InlineData("last=3", new[] { "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z", "2019-12-04T12:59:15Z" })]
    [InlineData("last=2", new[] { "2019-12-04T11:59:15Z", "2019-12-04T12:59:15Z" })]
    [InlineData("last=1", new[] { "2019-12-04T12:59:15Z" })]
    [InlineData("last=0", new string[0])]
    [InlineData("last=2 daily=2", new[] { "2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z", "2019-12-04T12:59:15Z" })]
    [InlineData("daily=3", new[] { "2019-12-02T11:59:15Z", "2019-12-03T11:59:15Z", "2019-12-04T12:59:15Z" })]
    [InlineData("daily=2", new[] { "2019-12-03T11:59:15Z", "2019-12-04T12:59:15Z" })]
    [InlineData("weekly=5", new[] { "2019-12-04T12:59:15Z" })]
    [InlineData("daily=1 weekly=5", new[] { "2019-12-04T12:59:15Z" })]
    [InlineData("monthly=6", new[] { "2019-12-04T12:59:15Z" })]
    [InlineData("yearly=7", new[] { "2019-12-04T12:59:15Z" })]
    [InlineData("weekly=5 monthly=6 yearly=7", new[] { "2019-12-04T12:59:15Z" })]
    public void PbsTestPruneSimple(string options, string[] expectedKept)
    {
        var marks = PruneSelector.ComputeMarks(Simple, Options(options), TimeZoneInfo.Utc);
        Assert.Equal(expectedKept, KeptTimes(Simple, marks));
    }

    private static readonly PruneCandidate[] Simple2 = Snapshots(
        "2018-11-15T11:59:15Z",
        "2019-11-15T11:59:15Z",
        "2019-11-21T11:59:15Z",
        "2019-11-22T11:59:15Z",
        "2019-11-29T11:59:15Z",
        "2019-12-01T11:59:15Z",
        "2019-12-02T11:59:15Z",
        "2019-12-03T11:59:15Z",
        "2019-12-04T11:59:15Z");

    [Theory]
    [InlineData("daily=1", new[] { "2019-12-04T11:59:15Z" })]
    [InlineData("last=1 daily=1", new[] { "2019-12-03T11:59:15Z", "2019-12-04T11:59:15Z" })]
    [InlineData("daily=1 weekly=1", new[] { "2019-12-01T11:59:15Z", "2019-12-04T11:59:15Z" })]
    // November's monthly pick is 11-22, not 11-29: weekly marked 11-29 Remove (same ISO week as
    // the kept 12-01), and a snapshot marked by an earlier rule is invisible to later rules.
    [InlineData("daily=1 weekly=1 monthly=1", new[] { "2019-11-22T11:59:15Z", "2019-12-01T11:59:15Z", "2019-12-04T11:59:15Z" })]
    [InlineData("monthly=1 yearly=1", new[] { "2018-11-15T11:59:15Z", "2019-12-04T11:59:15Z" })]
    public void PbsTestPruneSimple2(string options, string[] expectedKept)
    {
        var marks = PruneSelector.ComputeMarks(Simple2, Options(options), TimeZoneInfo.Utc);
        Assert.Equal(expectedKept, KeptTimes(Simple2, marks));
    }

    private static readonly PruneCandidate[] Hourly = Snapshots(
        "2019-11-15T09:39:15Z",
        "2019-11-15T10:49:15Z",
        "2019-11-15T10:59:15Z",
        "2019-11-15T11:39:15Z",
        "2019-11-15T11:49:15Z",
        "2019-11-15T11:59:15Z");

    [Theory]
    [InlineData("hourly=3", new[] { "2019-11-15T09:39:15Z", "2019-11-15T10:59:15Z", "2019-11-15T11:59:15Z" })]
    [InlineData("hourly=2", new[] { "2019-11-15T10:59:15Z", "2019-11-15T11:59:15Z" })]
    public void PbsTestPruneHourly(string options, string[] expectedKept)
    {
        var marks = PruneSelector.ComputeMarks(Hourly, Options(options), TimeZoneInfo.Utc);
        Assert.Equal(expectedKept, KeptTimes(Hourly, marks));
    }

    private static readonly PruneCandidate[] Protected = Snapshots(
        "P:2019-11-15T09:39:15Z",
        "2019-11-15T10:39:15Z",
        "2019-11-15T10:49:15Z",
        "P:2019-11-15T10:59:15Z");

    // Protected snapshots neither count toward a rule nor fill its period: keep-last=1 still keeps
    // 10:49 although the protected 10:59 is newer, and keep-hourly=1 takes hour 10 with 10:49.
    [Theory]
    [InlineData("last=1")]
    [InlineData("hourly=1")]
    public void PbsTestPruneProtected(string options)
    {
        var marks = PruneSelector.ComputeMarks(Protected, Options(options), TimeZoneInfo.Utc);
        Assert.Equal(
            new[]
            {
                "2019-11-15T09:39:15Z protected",
                "2019-11-15T10:39:15Z remove",
                "2019-11-15T10:49:15Z keep",
                "2019-11-15T10:59:15Z protected",
            },
            Describe(Protected, marks));
    }
}
