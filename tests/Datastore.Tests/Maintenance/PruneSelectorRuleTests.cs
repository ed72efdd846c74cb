using BackupFs.Datastore.Maintenance;
using static BackupFs.Datastore.Tests.Maintenance.PruneTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>Rules, rule interplay, protected and unfinished snapshots, keep-all, input handling.</summary>
public class PruneSelectorRuleTests
{
    private static readonly PruneCandidate[] Spread = Snapshots(
        "2022-06-30T08:00:00Z",
        "2023-12-31T08:00:00Z",
        "2024-01-31T08:00:00Z", // Wed, 2024-W05
        "2024-02-01T08:00:00Z", // Thu, 2024-W05
        "2024-02-01T09:00:00Z",
        "2024-02-01T09:30:00Z",
        "2024-02-02T07:00:00Z");

    [Theory]
    [InlineData("last=2", new[] { "2024-02-01T09:30:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("hourly=2", new[] { "2024-02-01T09:30:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("hourly=3", new[] { "2024-02-01T08:00:00Z", "2024-02-01T09:30:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("daily=3", new[] { "2024-01-31T08:00:00Z", "2024-02-01T09:30:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("weekly=2", new[] { "2023-12-31T08:00:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("monthly=3", new[] { "2023-12-31T08:00:00Z", "2024-01-31T08:00:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("yearly=3", new[] { "2022-06-30T08:00:00Z", "2023-12-31T08:00:00Z", "2024-02-02T07:00:00Z" })]
    // Periods already holding a snapshot kept by an earlier rule do not use up the count:
    // keep-last took 02-02 and 02-01, so keep-daily=2 adds two more days.
    [InlineData("last=2 daily=2", new[] { "2023-12-31T08:00:00Z", "2024-01-31T08:00:00Z", "2024-02-01T09:30:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("last=1 monthly=2 yearly=3", new[] { "2022-06-30T08:00:00Z", "2023-12-31T08:00:00Z", "2024-01-31T08:00:00Z", "2024-02-02T07:00:00Z" })]
    // Weekly marks 01-31 Remove (same ISO week as the kept 02-02), so monthly cannot pick it for
    // January and takes December instead: a rule never revisits what an earlier rule marked.
    // Compare "monthly=3" above, which keeps 01-31 for January.
    [InlineData("weekly=1 monthly=1", new[] { "2023-12-31T08:00:00Z", "2024-02-02T07:00:00Z" })]
    [InlineData("weekly=1 monthly=2", new[] { "2022-06-30T08:00:00Z", "2023-12-31T08:00:00Z", "2024-02-02T07:00:00Z" })]
    public void RulesAndCombinations(string options, string[] expectedKept)
    {
        var marks = PruneSelector.Select(Spread, Options(options), TimeZoneInfo.Utc);
        Assert.Equal(expectedKept, KeptTimes(Spread, marks));
    }

    [Theory]
    [InlineData("last=10")]
    [InlineData("hourly=10")]
    [InlineData("daily=10")]
    [InlineData("weekly=10")]
    [InlineData("monthly=10")]
    [InlineData("yearly=10")]
    [InlineData("last=10 hourly=10 daily=10 weekly=10 monthly=10 yearly=10")]
    public void FewerSnapshotsThanTheCount_KeepsOnePerPeriod(string options)
    {
        var snapshots = Snapshots("2021-03-01T10:00:00Z", "2022-05-10T10:00:00Z", "2023-07-20T10:00:00Z");
        var marks = PruneSelector.Select(snapshots, Options(options), TimeZoneInfo.Utc);
        Assert.Equal(new[] { PruneMark.Keep, PruneMark.Keep, PruneMark.Keep }, marks);
    }

    [Fact]
    public void ProtectedSnapshotDoesNotFillItsPeriod()
    {
        var snapshots = Snapshots("2019-12-03T10:00:00Z", "2019-12-04T10:00:00Z", "P:2019-12-04T12:00:00Z");
        var marks = PruneSelector.Select(snapshots, Options("daily=1"), TimeZoneInfo.Utc);
        Assert.Equal(new[] { PruneMark.Remove, PruneMark.Keep, PruneMark.Protected }, marks);
    }

    [Fact]
    public void ProtectedSnapshotBeyondEveryRuleIsStillKept()
    {
        var snapshots = Snapshots("P:2010-01-01T00:00:00Z", "2019-12-03T10:00:00Z", "2019-12-04T10:00:00Z");
        var marks = PruneSelector.Select(snapshots, Options("last=1"), TimeZoneInfo.Utc);
        Assert.Equal(new[] { PruneMark.Protected, PruneMark.Remove, PruneMark.Keep }, marks);
    }

    public static TheoryData<string, string[], string[]> UnfinishedCases => new()
    {
        // The newest snapshot is unfinished (maybe still running): kept as partial, not counted.
        { "last=1", new[] { "2019-12-02T10:00:00Z", "2019-12-03T10:00:00Z", "U:2019-12-04T10:00:00Z" },
          new[] { "2019-12-02T10:00:00Z remove", "2019-12-03T10:00:00Z keep", "2019-12-04T10:00:00Z keep-partial" } },
        // Only the newest of several unfinished snapshots is kept.
        { "last=1", new[] { "2019-12-02T10:00:00Z", "U:2019-12-03T10:00:00Z", "U:2019-12-04T10:00:00Z" },
          new[] { "2019-12-02T10:00:00Z keep", "2019-12-03T10:00:00Z remove", "2019-12-04T10:00:00Z keep-partial" } },
        // An unfinished snapshot older than a finished one is removed whatever the counts.
        { "last=5 daily=5", new[] { "U:2019-12-03T10:00:00Z", "2019-12-04T10:00:00Z" },
          new[] { "2019-12-03T10:00:00Z remove", "2019-12-04T10:00:00Z keep" } },
        // A partial snapshot does not represent its day.
        { "daily=1", new[] { "2019-12-04T10:00:00Z", "U:2019-12-04T12:00:00Z" },
          new[] { "2019-12-04T10:00:00Z keep", "2019-12-04T12:00:00Z keep-partial" } },
        // A protected unfinished snapshot stays protected but still takes the one partial slot.
        { "last=1", new[] { "2019-12-02T10:00:00Z", "U:2019-12-03T10:00:00Z", "PU:2019-12-04T10:00:00Z" },
          new[] { "2019-12-02T10:00:00Z keep", "2019-12-03T10:00:00Z remove", "2019-12-04T10:00:00Z protected" } },
    };

    [Theory]
    [MemberData(nameof(UnfinishedCases))]
    public void UnfinishedSnapshots(string options, string[] snapshotSpecs, string[] expected)
    {
        var snapshots = Snapshots(snapshotSpecs);
        Assert.Equal(expected, Describe(snapshots, PruneSelector.Select(snapshots, Options(options), TimeZoneInfo.Utc)));
    }

    private static readonly PruneCandidate[] Mixed = Snapshots(
        "U:2019-12-01T10:00:00Z", "P:2019-12-02T10:00:00Z", "2019-12-03T10:00:00Z", "U:2019-12-04T10:00:00Z");

    [Theory]
    [InlineData("")]
    [InlineData("last=0")]
    [InlineData("last=0 hourly=0 daily=0 weekly=0 monthly=0 yearly=0")]
    public void NoRuleKeepsEverything(string options)
    {
        var marks = PruneSelector.Select(Mixed, Options(options), TimeZoneInfo.Utc);
        Assert.Equal(new[] { PruneMark.Keep, PruneMark.Protected, PruneMark.Keep, PruneMark.KeepPartial }, marks);
    }

    [Fact]
    public void NoRule_RawPbsMarksStillSayRemove()
    {
        // compute_prune_info alone marks them Remove; PBS's prune callers then keep all anyway.
        var marks = PruneSelector.ComputeMarks(Mixed, new KeepOptions(), TimeZoneInfo.Utc);
        Assert.Equal(new[] { PruneMark.Remove, PruneMark.Protected, PruneMark.Remove, PruneMark.KeepPartial }, marks);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("last=0", true)]
    [InlineData("last=0 yearly=0", true)]
    [InlineData("last=1", false)]
    [InlineData("hourly=1", false)]
    [InlineData("daily=1", false)]
    [InlineData("weekly=1", false)]
    [InlineData("monthly=1", false)]
    [InlineData("yearly=1", false)]
    public void KeepsAllWhenNoCountIsPositive(string options, bool keepsAll) =>
        Assert.Equal(keepsAll, Options(options).KeepsAll);

    [Fact]
    public void MarksFollowInputOrder()
    {
        var snapshots = Snapshots(
            "2019-12-03T11:59:15Z", "2018-11-15T11:59:15Z", "2019-12-04T11:59:15Z",
            "2019-11-22T11:59:15Z", "2019-12-01T11:59:15Z", "2019-11-29T11:59:15Z");
        var marks = PruneSelector.Select(snapshots, Options("daily=1 weekly=1 monthly=1"), TimeZoneInfo.Utc);
        Assert.Equal(
            new[] { PruneMark.Remove, PruneMark.Remove, PruneMark.Keep, PruneMark.Keep, PruneMark.Keep, PruneMark.Remove },
            marks);
    }

    [Fact]
    public void EmptyGroupGivesNoMarks() =>
        Assert.Empty(PruneSelector.Select([], Options("last=3"), TimeZoneInfo.Utc));

    [Fact]
    public void DuplicateBackupTimeIsRejected()
    {
        var snapshots = Snapshots("2019-12-04T10:00:00Z", "P:2019-12-04T10:00:00Z");
        var error = Assert.Throws<ArgumentException>(() => PruneSelector.Select(snapshots, Options("last=1"), TimeZoneInfo.Utc));
        Assert.Contains("share the backup time", error.Message);
    }

    [Theory]
    [InlineData(-1, null, "keep-last")]
    [InlineData(null, -3, "keep-daily")]
    public void NegativeCountIsRejected(int? last, int? daily, string name)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => PruneSelector.Select(Mixed, new KeepOptions(Last: last, Daily: daily), TimeZoneInfo.Utc));
        Assert.Equal(name, error.ParamName);
    }

    [Fact]
    public void TimeOutsideCalendarRangeIsRejected()
    {
        var snapshots = new[] { new PruneCandidate(long.MaxValue, Protected: false) };
        Assert.Throws<ArgumentOutOfRangeException>(() => PruneSelector.Select(snapshots, Options("daily=1"), TimeZoneInfo.Utc));
    }

    [Fact]
    public void MarkNamesMatchPbs() =>
        Assert.Equal(
            new[] { "keep", "keep-partial", "protected", "remove" },
            new[] { PruneMark.Keep, PruneMark.KeepPartial, PruneMark.Protected, PruneMark.Remove }.Select(m => m.ToPbsName()));

    [Fact]
    public void OptionsRenderLikePbsTaskLog() =>
        Assert.Equal("--keep-last 3 --keep-weekly 2 --keep-yearly 1", new KeepOptions(Last: 3, Weekly: 2, Yearly: 1).ToCliString());
}
