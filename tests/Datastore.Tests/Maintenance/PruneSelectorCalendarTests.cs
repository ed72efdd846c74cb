using BackupFs.Datastore.Maintenance;
using static BackupFs.Datastore.Tests.Maintenance.PruneTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>
/// Periods are wall-clock periods in the zone (PBS: strftime_local), weeks are ISO weeks of the
/// ISO week-based year ("%G/%V"), years are calendar years ("%Y").
/// </summary>
public class PruneSelectorCalendarTests
{
    // Sun 2019-12-29 is 2019-W52; Mon 2019-12-30 and Wed 2020-01-01 are both 2020-W01.
    private static readonly PruneCandidate[] NewYear2020 = Snapshots(
        "2019-12-29T12:00:00Z",
        "2019-12-30T12:00:00Z",
        "2020-01-01T12:00:00Z");

    // Mon 2020-12-28 and Sun 2021-01-03 are both 2020-W53; Mon 2021-01-04 is 2021-W01.
    private static readonly PruneCandidate[] NewYear2021 = Snapshots(
        "2020-12-28T12:00:00Z",
        "2021-01-03T12:00:00Z",
        "2021-01-04T12:00:00Z");

    [Fact]
    public void WeeklyUsesIsoWeekYear_Dec30BelongsToNextYearsWeek1()
    {
        var marks = PruneSelector.Select(NewYear2020, Options("weekly=2"), TimeZoneInfo.Utc);
        Assert.Equal(new[] { "2019-12-29T12:00:00Z", "2020-01-01T12:00:00Z" }, KeptTimes(NewYear2020, marks));
    }

    [Fact]
    public void WeeklyUsesIsoWeekYear_Jan3BelongsToPreviousYearsWeek53()
    {
        var marks = PruneSelector.Select(NewYear2021, Options("weekly=2"), TimeZoneInfo.Utc);
        Assert.Equal(new[] { "2021-01-03T12:00:00Z", "2021-01-04T12:00:00Z" }, KeptTimes(NewYear2021, marks));
    }

    [Fact]
    public void YearlyUsesCalendarYear_NotIsoWeekYear()
    {
        var marks = PruneSelector.Select(NewYear2021, Options("yearly=2"), TimeZoneInfo.Utc);
        Assert.Equal(new[] { "2020-12-28T12:00:00Z", "2021-01-04T12:00:00Z" }, KeptTimes(NewYear2021, marks));
    }

    [Fact]
    public void WeekStartsOnMonday()
    {
        var snapshots = Snapshots("2019-12-01T23:00:00Z", "2019-12-02T01:00:00Z"); // Sun, Mon
        var marks = PruneSelector.Select(snapshots, Options("weekly=5"), TimeZoneInfo.Utc);
        Assert.Equal(new[] { PruneMark.Keep, PruneMark.Keep }, marks);
    }

    // Vienna leaves DST on 2024-10-27 at 01:00 UTC (03:00 CEST -> 02:00 CET): 00:30Z and 01:30Z
    // both read 02:30 on the wall clock, so PBS puts them in one hourly period.
    private static readonly PruneCandidate[] ViennaFallBack = Snapshots(
        "2024-10-27T00:30:00Z",
        "2024-10-27T01:30:00Z",
        "2024-10-27T02:30:00Z");

    [Fact]
    public void HourlyInVienna_RepeatedWallClockHourIsOnePeriod()
    {
        var marks = PruneSelector.Select(ViennaFallBack, Options("hourly=3"), Vienna());
        Assert.Equal(new[] { "2024-10-27T01:30:00Z", "2024-10-27T02:30:00Z" }, KeptTimes(ViennaFallBack, marks));
    }

    [Fact]
    public void HourlyInUtc_SameSnapshotsAreThreePeriods()
    {
        var marks = PruneSelector.Select(ViennaFallBack, Options("hourly=3"), TimeZoneInfo.Utc);
        Assert.Equal(3, KeptTimes(ViennaFallBack, marks).Length);
    }

    // Vienna enters DST on 2024-03-31 at 01:00 UTC, so that local day is 23 hours long:
    // 2024-03-30T23:30Z is 03-31 00:30 CET, 2024-03-31T21:30Z is 03-31 23:30 CEST,
    // 2024-03-31T22:30Z is already 04-01 00:30 CEST.
    private static readonly PruneCandidate[] ViennaSpringForward = Snapshots(
        "2024-03-30T23:30:00Z",
        "2024-03-31T21:30:00Z",
        "2024-03-31T22:30:00Z");

    [Fact]
    public void DailyInVienna_DaysFollowTheLocalDateAcrossDstStart()
    {
        var marks = PruneSelector.Select(ViennaSpringForward, Options("daily=2"), Vienna());
        Assert.Equal(new[] { "2024-03-31T21:30:00Z", "2024-03-31T22:30:00Z" }, KeptTimes(ViennaSpringForward, marks));
    }

    [Fact]
    public void DailyInUtc_SameSnapshotsSplitDifferently()
    {
        var marks = PruneSelector.Select(ViennaSpringForward, Options("daily=2"), TimeZoneInfo.Utc);
        Assert.Equal(new[] { "2024-03-30T23:30:00Z", "2024-03-31T22:30:00Z" }, KeptTimes(ViennaSpringForward, marks));
    }

    [Fact]
    public void DefaultZoneIsTheLocalZone()
    {
        var snapshots = Snapshots("2024-03-30T23:30:00Z", "2024-03-31T21:30:00Z", "2024-10-27T00:30:00Z", "2024-10-27T01:30:00Z");
        var options = Options("hourly=2 daily=2 weekly=1");
        Assert.Equal(PruneSelector.Select(snapshots, options, TimeZoneInfo.Local), PruneSelector.Select(snapshots, options));
    }

    [Fact]
    public void HandBuiltViennaFallbackMatchesTheTzDatabase()
    {
        TimeZoneInfo system;
        try { system = TimeZoneInfo.FindSystemTimeZoneById("Europe/Vienna"); }
        catch (TimeZoneNotFoundException) { return; } // nothing to compare against
        var byRule = ViennaByEuRule();
        foreach (var snapshot in ViennaFallBack.Concat(ViennaSpringForward))
        {
            var instant = DateTimeOffset.FromUnixTimeSeconds(snapshot.BackupTime);
            Assert.Equal(TimeZoneInfo.ConvertTime(instant, system).DateTime, TimeZoneInfo.ConvertTime(instant, byRule).DateTime);
            Assert.Equal(system.GetUtcOffset(instant), byRule.GetUtcOffset(instant));
        }
    }
}
