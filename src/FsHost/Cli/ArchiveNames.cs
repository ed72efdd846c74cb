using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Cli;

/// <summary>Maps what a user types (root.pxar, drive-scsi0.img, qemu-server.conf) to a snapshot's server file name.</summary>
public static class ArchiveNames
{
    public static string Resolve(SnapshotReader reader, string name)
    {
        var names = reader.FileNames.ToList();
        if (names.Contains(name)) return name;
        // A split pxar pair is addressed by its common name: root.pxar -> root.mpxar.didx.
        if (name.EndsWith(".pxar", StringComparison.Ordinal))
        {
            var baseName = name[..^".pxar".Length];
            if (names.Contains(baseName + ".mpxar.didx")) return baseName + ".mpxar.didx";
        }
        string mapped;
        try { mapped = NameRules.ToServerArchiveName(name); }
        catch (InvalidNameException) { mapped = name; }
        if (names.Contains(mapped)) return mapped;
        if (name == "client.log" || name == "client.log.blob") return "client.log.blob";
        throw new BackupFsException($"snapshot {reader.Snapshot} has no archive '{name}' (it has: {string.Join(", ", names)})");
    }
}
