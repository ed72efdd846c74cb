using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;

namespace BackupFs.FsHost.Cli;

/// <summary>Resolves a SNAPSHOT argument: a full snapshot path, or "&lt;type&gt;/&lt;id&gt;" for the group's latest.</summary>
public static class SnapshotArgument
{
    public static SnapshotRef Resolve(DataStore store, string text, string? ns)
    {
        var trimmed = text.Trim('/');
        var parts = trimmed.Split('/');
        bool isGroup = parts.Length >= 2 && !NameRules.IsBackupTime(parts[^1]);
        if (isGroup)
        {
            var prefix = BackupNamespace.FromPathPrefix(parts, out int i);
            if (parts.Length - i != 2) throw new InvalidNameException($"invalid snapshot or group '{text}'");
            var space = prefix.IsRoot ? BackupNamespace.Parse(ns) : prefix;
            var group = new BackupGroup(space, BackupTypes.Parse(parts[i]), parts[i + 1]);
            return store.LatestSnapshot(group) ?? throw new BackupFsException($"group {group} has no finished snapshot");
        }
        var snapshot = SnapshotRef.Parse(trimmed, BackupNamespace.Parse(ns));
        if (!store.SnapshotExists(snapshot)) throw new BackupFsException($"snapshot {snapshot} does not exist");
        return snapshot;
    }
}
