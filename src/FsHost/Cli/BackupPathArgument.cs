using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// The one parser for the namespace, group and snapshot arguments of every command. A path is
/// datastore-relative: [ns/&lt;name&gt;/...]&lt;type&gt;/&lt;id&gt; names a group, with /&lt;YYYY-MM-DDTHH:MM:SSZ&gt; a
/// snapshot; the namespace comes from the path or from --ns ("team/a"), never from both. Anything
/// that could leave the datastore (an absolute path, "..", ".", an empty component) is refused by
/// name before a component is looked at.
/// </summary>
public static class BackupPathArgument
{
    /// <summary>Longer than any valid path (a 256-character namespace, a 255-character id, a time).</summary>
    public const int MaxLength = 1024;

    private const string Forms = "[ns/<name>/...]<type>/<id>[/<YYYY-MM-DDTHH:MM:SSZ>], e.g. host/web1 or ns/team/host/web1/2025-07-14T14:20:02Z";

    /// <summary>A namespace in its display form, "team/a" (--ns, `ns create|remove NAME`); empty or "/" is the root.</summary>
    /// <exception cref="InvalidNameException">a bad name</exception>
    public static BackupNamespace Namespace(string? text, string what = "--ns")
    {
        if (string.IsNullOrEmpty(text) || text == "/") return BackupNamespace.Root;
        CheckLength(text, what);
        if (text.StartsWith('/')) throw new InvalidNameException($"{what} '{text}' starts with '/'; give the namespace as team/a (\"/\" alone is the root namespace)");
        return BackupNamespace.FromComponents(Components(text, what));
    }

    /// <summary>A group: "host/web1" (in the --ns namespace) or "ns/team/host/web1".</summary>
    /// <exception cref="InvalidNameException">not a group path</exception>
    public static BackupGroup Group(string text, string? ns, string what = "GROUP")
    {
        var (group, time) = Parse(text, ns, what);
        if (time is not null) throw new InvalidNameException($"{what} '{text}' names a snapshot; give its group, e.g. {group.Display}");
        return group;
    }

    /// <summary>The group a backup writes to, from --type and --id.</summary>
    /// <exception cref="InvalidNameException">a bad type or id</exception>
    public static BackupGroup Group(BackupNamespace ns, string type, string id) => new(ns, BackupTypes.Parse(type), id);

    /// <summary>
    /// A snapshot with its time, the only form a command that deletes takes: naming the group would
    /// remove whichever snapshot happens to be its latest.
    /// </summary>
    /// <exception cref="InvalidNameException">not a snapshot path, or a group</exception>
    public static SnapshotRef ExplicitSnapshot(string text, string? ns, string command)
    {
        var (group, time) = Parse(text, ns, "SNAPSHOT");
        if (time is null)
            throw new InvalidNameException($"{command} needs an explicit snapshot, <type>/<id>/<YYYY-MM-DDTHH:MM:SSZ>; '{text}' is a group (see its snapshots with 'backupfs snapshots')");
        return new SnapshotRef(group, time.Value);
    }

    /// <summary>A snapshot, or a group for its latest finished snapshot; it must exist.</summary>
    /// <exception cref="BackupFsException">a bad path, or no such snapshot</exception>
    public static SnapshotRef Resolve(DataStore store, string text, string? ns)
    {
        var (group, time) = Parse(text, ns, "SNAPSHOT");
        if (time is null) return store.LatestSnapshot(group) ?? throw new BackupFsException($"group {group} has no finished snapshot");
        var snapshot = new SnapshotRef(group, time.Value);
        if (!store.SnapshotExists(snapshot)) throw new BackupFsException($"snapshot {snapshot} does not exist");
        return snapshot;
    }

    /// <summary>A group or snapshot path: its group, and the snapshot's time when it names one.</summary>
    /// <exception cref="InvalidNameException">not such a path</exception>
    public static (BackupGroup Group, long? Time) Parse(string text, string? ns, string what = "SNAPSHOT")
    {
        CheckLength(text, what);
        if (text.StartsWith('/'))
            throw new InvalidNameException($"{what} '{text}' is an absolute path; give it relative to the datastore: {Forms}");
        var parts = Components(text, what);
        var fromPath = BackupNamespace.FromPathPrefix(parts, out int i);
        var fromOption = Namespace(ns);
        if (!fromPath.IsRoot && !fromOption.IsRoot)
            throw new InvalidNameException($"give the namespace either in {what} (ns/<name>/...) or with --ns, not both");
        var space = fromPath.IsRoot ? fromOption : fromPath;
        int rest = parts.Length - i;
        if (rest is not (2 or 3)) throw new InvalidNameException($"{what} '{text}' is not {Forms}");
        var group = new BackupGroup(space, BackupTypes.Parse(parts[i]), parts[i + 1]);
        return (group, rest == 3 ? NameRules.ParseBackupTime(parts[i + 2]) : null);
    }

    /// <summary>The '/'-separated components (a trailing '/' is allowed); refuses what could leave the datastore.</summary>
    private static string[] Components(string text, string what)
    {
        if (text.Length == 0) throw new InvalidNameException($"{what} is empty");
        var parts = text.TrimEnd('/').Split('/');
        if (parts.Any(p => p is "." or ".."))
            throw new InvalidNameException($"{what} '{text}' contains '.' or '..'; names in a datastore path are plain names");
        if (parts.Any(p => p.Length == 0)) throw new InvalidNameException($"{what} '{text}' has an empty component");
        return parts;
    }

    private static void CheckLength(string text, string what)
    {
        if (text.Length > MaxLength) throw new InvalidNameException($"{what} is longer than {MaxLength} characters");
    }
}
