using System.Globalization;
using BackupFs.Datastore.Maintenance;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>
/// Compact notation for prune tables. A snapshot is its RFC 3339 UTC time, optionally prefixed
/// "P:" (protected), "U:" (unfinished, no manifest) or "PU:" (both). Options are "last=2 daily=3".
/// </summary>
internal static class PruneTestData
{
    public static PruneCandidate Snapshot(string spec)
    {
        var colon = spec.IndexOf(':');
        var flags = colon is > 0 and <= 2 ? spec[..colon] : "";
        var time = flags.Length > 0 ? spec[(colon + 1)..] : spec;
        return new PruneCandidate(ParseTime(time), Protected: flags.Contains('P'), Finished: !flags.Contains('U'));
    }

    public static PruneCandidate[] Snapshots(params string[] specs) => specs.Select(Snapshot).ToArray();

    public static long ParseTime(string rfc3339) =>
        DateTimeOffset.Parse(rfc3339, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).ToUnixTimeSeconds();

    public static string FormatTime(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static KeepOptions Options(string spec)
    {
        var options = new KeepOptions();
        foreach (var part in spec.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var (name, value) = (part.Split('=')[0], int.Parse(part.Split('=')[1], CultureInfo.InvariantCulture));
            options = name switch
            {
                "last" => options with { Last = value },
                "hourly" => options with { Hourly = value },
                "daily" => options with { Daily = value },
                "weekly" => options with { Weekly = value },
                "monthly" => options with { Monthly = value },
                "yearly" => options with { Yearly = value },
                _ => throw new ArgumentException($"unknown keep option '{name}'"),
            };
        }
        return options;
    }

    /// <summary>Times of the snapshots not marked Remove, oldest first.</summary>
    public static string[] KeptTimes(IReadOnlyList<PruneCandidate> snapshots, IReadOnlyList<PruneMark> marks) =>
        Enumerable.Range(0, snapshots.Count)
            .Where(i => marks[i].Keeps())
            .OrderBy(i => snapshots[i].BackupTime)
            .Select(i => FormatTime(snapshots[i].BackupTime))
            .ToArray();

    /// <summary>"time mark" per snapshot, oldest first, e.g. "2019-12-04T11:59:15Z keep-partial".</summary>
    public static string[] Describe(IReadOnlyList<PruneCandidate> snapshots, IReadOnlyList<PruneMark> marks) =>
        Enumerable.Range(0, snapshots.Count)
            .OrderBy(i => snapshots[i].BackupTime)
            .Select(i => $"{FormatTime(snapshots[i].BackupTime)} {marks[i].ToPbsName()}")
            .ToArray();

    /// <summary>
    /// Europe/Vienna from the system tz database; where that is missing, the same EU rule built by
    /// hand (CET/CEST, switching on the last Sundays of March and October at 01:00 UTC).
    /// </summary>
    public static TimeZoneInfo Vienna()
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById("Europe/Vienna");
        }
        catch (TimeZoneNotFoundException)
        {
            return ViennaByEuRule();
        }
    }

    public static TimeZoneInfo ViennaByEuRule()
    {
        var rule = TimeZoneInfo.AdjustmentRule.CreateAdjustmentRule(
            new DateTime(1996, 1, 1), DateTime.MaxValue.Date, TimeSpan.FromHours(1),
            TimeZoneInfo.TransitionTime.CreateFloatingDateRule(new DateTime(1, 1, 1, 2, 0, 0), 3, 5, DayOfWeek.Sunday),
            TimeZoneInfo.TransitionTime.CreateFloatingDateRule(new DateTime(1, 1, 1, 3, 0, 0), 10, 5, DayOfWeek.Sunday));
        return TimeZoneInfo.CreateCustomTimeZone("Europe/Vienna (EU rule)", TimeSpan.FromHours(1),
            "Europe/Vienna", "CET", "CEST", [rule]);
    }
}
