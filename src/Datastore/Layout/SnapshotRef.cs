using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Layout;

/// <summary>A snapshot: group + backup time (epoch seconds), stored at "&lt;group path&gt;/&lt;RFC 3339 time&gt;".</summary>
public sealed record SnapshotRef(BackupGroup Group, long BackupTime)
{
    public string TimeName => NameRules.FormatBackupTime(BackupTime);
    public string RelativePath => BackupGroup.Join(Group.RelativePath, TimeName);

    /// <summary>
    /// Parses a datastore-relative snapshot path such as "host/web1/2025-07-14T14:20:02Z" or
    /// "ns/a/ns/b/vm/100/2025-07-14T14:20:02Z" (what `backupfs backup` prints).
    /// </summary>
    public static SnapshotRef Parse(string path, BackupNamespace? ns = null)
    {
        var parts = path.Trim('/').Split('/');
        var nsParsed = BackupNamespace.FromPathPrefix(parts, out int i);
        if (parts.Length - i != 3)
            throw new InvalidNameException($"invalid snapshot '{path}' (expected [ns/<name>/...]<type>/<id>/<YYYY-MM-DDTHH:MM:SSZ>)");
        if (ns is { IsRoot: false })
        {
            if (!nsParsed.IsRoot) throw new InvalidNameException("give the namespace either in the path or with --ns, not both");
            nsParsed = ns;
        }
        var group = new BackupGroup(nsParsed, BackupTypes.Parse(parts[i]), parts[i + 1]);
        return new SnapshotRef(group, NameRules.ParseBackupTime(parts[i + 2]));
    }

    public override string ToString() => RelativePath;
}
