using System.Globalization;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// The calendar period a snapshot falls into for each time-based keep rule, as a number that is
/// equal exactly when PBS's strftime_local ids are equal: "%Y/%m/%d/%H" (hourly), "%Y/%m/%d"
/// (daily), "%G/%V" (weekly: ISO week-based year and ISO week), "%Y/%m" (monthly), "%Y" (yearly),
/// all on the wall-clock time in the given zone. A wall-clock hour that repeats when DST ends is
/// therefore one hourly period, as in PBS.
/// </summary>
internal static class RetentionPeriod
{
    public static long Hourly(DateTime local) => Daily(local) * 100 + local.Hour;

    public static long Daily(DateTime local) => Monthly(local) * 100 + local.Day;

    // The ISO week-based year differs from the calendar year around New Year (2019-12-30 is 2020-W01).
    public static long Weekly(DateTime local) => ISOWeek.GetYear(local) * 100L + ISOWeek.GetWeekOfYear(local);

    public static long Monthly(DateTime local) => Yearly(local) * 100 + local.Month;

    public static long Yearly(DateTime local) => local.Year;

    /// <summary>The wall-clock time of a Unix timestamp in the zone.</summary>
    public static DateTime ToLocal(long unixSeconds, TimeZoneInfo zone)
    {
        // Keep a day of margin so the zone offset cannot push the value outside DateTime's range.
        if (unixSeconds < MinUnixSeconds || unixSeconds > MaxUnixSeconds)
            throw new ArgumentOutOfRangeException(nameof(unixSeconds), unixSeconds,
                "snapshot time is outside the supported range (years 0001 to 9999)");
        return TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeSeconds(unixSeconds), zone).DateTime;
    }

    private static readonly long MinUnixSeconds = DateTimeOffset.MinValue.AddDays(1).ToUnixTimeSeconds();
    private static readonly long MaxUnixSeconds = DateTimeOffset.MaxValue.AddDays(-1).ToUnixTimeSeconds();
}
