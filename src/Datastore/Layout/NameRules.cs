using System.Globalization;
using System.Text.RegularExpressions;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Layout;

/// <summary>
/// PBS's naming rules (pbs-api-types): only names that pass can be addressed, so nothing
/// outside the datastore layout is reachable ('/', '..', empty and odd names are refused).
/// </summary>
public static partial class NameRules
{
    /// <summary>SAFE_ID: namespace components.</summary>
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._\-]*$")]
    private static partial Regex SafeIdRegex();

    /// <summary>BACKUP_ID_RE: group ids.</summary>
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._\-]*$")]
    private static partial Regex BackupIdRegex();

    /// <summary>BACKUP_TIME_RE: snapshot directory names.</summary>
    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")]
    private static partial Regex BackupTimeRegex();

    /// <summary>Archive file names inside a snapshot (server names).</summary>
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._\-]*\.(didx|fidx|blob)$")]
    private static partial Regex ArchiveFileRegex();

    public const int MaxNamespaceDepth = 7;
    public const int MaxNamespaceLength = 256;

    public static bool IsSafeId(string s) => s.Length > 0 && s.Length <= 128 && SafeIdRegex().IsMatch(s);
    public static bool IsBackupId(string s) => s.Length > 0 && s.Length <= 255 && BackupIdRegex().IsMatch(s);
    public static bool IsBackupTime(string s) => BackupTimeRegex().IsMatch(s);
    public static bool IsArchiveFileName(string s) => s.Length <= 255 && ArchiveFileRegex().IsMatch(s);

    public static string CheckBackupId(string id) =>
        IsBackupId(id) ? id : throw new InvalidNameException($"invalid backup id '{id}' (allowed: letters, digits, '_', '.', '-'; not starting with '.' or '-')");

    public static string CheckArchiveFileName(string name) =>
        IsArchiveFileName(name) ? name : throw new InvalidNameException($"invalid archive name '{name}' (expected e.g. root.pxar.didx, drive-scsi0.img.fidx, qemu-server.conf.blob)");

    /// <summary>
    /// PBS's range of backup times: at least 1 (BACKUP_TIME_SCHEMA) and at most 9999-12-31T23:59:59Z, the
    /// last instant its RFC 3339 formatting accepts (years 0..9999).
    /// </summary>
    public const long MinBackupTime = 1, MaxBackupTime = 253402300799;

    /// <summary>
    /// How far ahead of the clock an explicit backup time may be. A snapshot dated further in the
    /// future would make every later backup of its group fail (each must be newer than the last).
    /// </summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromDays(1);

    /// <summary>Formats an epoch as the snapshot directory name, e.g. 2025-07-14T14:20:02Z.</summary>
    public static string FormatBackupTime(long epoch)
    {
        if (epoch < MinBackupTime) throw new InvalidNameException($"backup time {epoch} must be at least 1");
        if (epoch > MaxBackupTime) throw new InvalidNameException($"backup time {epoch} is beyond 9999-12-31T23:59:59Z");
        var t = DateTimeOffset.FromUnixTimeSeconds(epoch);
        return t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    public static bool TryParseBackupTime(string s, out long epoch)
    {
        epoch = 0;
        if (!IsBackupTime(s)) return false;
        if (!DateTime.TryParseExact(s, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var dt)) return false;
        epoch = new DateTimeOffset(dt, TimeSpan.Zero).ToUnixTimeSeconds();
        return epoch >= 1;
    }

    public static long ParseBackupTime(string s) =>
        TryParseBackupTime(s, out var e) ? e : throw new InvalidNameException($"invalid snapshot time '{s}' (expected YYYY-MM-DDTHH:MM:SSZ)");

    /// <summary>
    /// A backup time given for a new snapshot (backup --time): PBS's format and range, and not more
    /// than <see cref="MaxFutureSkew"/> ahead of <paramref name="now"/>.
    /// </summary>
    public static long ParseNewBackupTime(string s, DateTimeOffset now)
    {
        long epoch = ParseBackupTime(s);
        if (epoch > now.ToUnixTimeSeconds() + (long)MaxFutureSkew.TotalSeconds)
            throw new InvalidNameException($"backup time '{s}' is in the future (more than {MaxFutureSkew.TotalHours:0} h ahead of this clock); a snapshot dated later than now would block every later backup of its group");
        return epoch;
    }

    /// <summary>
    /// Maps a client archive name to the server file name as PBS does: .pxar/.mpxar/.ppxar/.pcat1
    /// get .didx, .img gets .fidx, .conf/.json/.key/.log get .blob; server names stay as they are.
    /// </summary>
    public static string ToServerArchiveName(string name)
    {
        if (name.EndsWith(".didx") || name.EndsWith(".fidx") || name.EndsWith(".blob")) return CheckArchiveFileName(name);
        string ext = Path.GetExtension(name);
        string mapped = ext switch
        {
            ".pxar" or ".mpxar" or ".ppxar" or ".pcat1" => name + ".didx",
            ".img" => name + ".fidx",
            ".conf" or ".json" or ".key" or ".log" => name + ".blob",
            _ => throw new InvalidNameException($"unknown archive type '{name}' (use .pxar, .img, .conf, .json, .log or a server name)"),
        };
        return CheckArchiveFileName(mapped);
    }

    /// <summary><see cref="ToServerArchiveName"/>, or null for a name it refuses.</summary>
    public static string? TryToServerArchiveName(string name)
    {
        try { return ToServerArchiveName(name); }
        catch (InvalidNameException) { return null; }
    }
}
