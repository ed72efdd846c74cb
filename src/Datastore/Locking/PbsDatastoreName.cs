using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Locking;

/// <summary>
/// The name PBS knows a datastore by, which names its lock directory. On a PBS host it is the
/// <c>datastore: NAME</c> section of /etc/proxmox-backup/datastore.cfg whose <c>path</c> is the
/// store's directory; elsewhere (or for a directory PBS does not know) the store's own name.
/// BACKUPFS_PBS_DATASTORE_CFG moves the file for tests.
/// </summary>
public static class PbsDatastoreName
{
    public const string DefaultConfigPath = "/etc/proxmox-backup/datastore.cfg";
    public const string ConfigVariable = "BACKUPFS_PBS_DATASTORE_CFG";
    private const long MaxConfigBytes = 4 << 20;

    public static string ConfigPath
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(ConfigVariable);
            return string.IsNullOrEmpty(value) ? DefaultConfigPath : value;
        }
    }

    public static string Resolve(DataStore store) => FromConfig(ConfigPath, store.Root) ?? store.Name;

    /// <summary>The section name whose path is <paramref name="root"/>, or null.</summary>
    public static string? FromConfig(string configPath, string root)
    {
        string text;
        try
        {
            var info = new FileInfo(configPath);
            if (!info.Exists || info.Length > MaxConfigBytes) return null;
            text = File.ReadAllText(configPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }

        var wanted = Normalize(root);
        string? section = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.TrimStart().StartsWith('#')) continue;
            if (!char.IsWhiteSpace(line[0]))
            {
                // "datastore: NAME" starts a section; anything else ends the one we were in.
                int colon = line.IndexOf(':');
                section = colon > 0 && line[..colon].Trim() == "datastore" ? line[(colon + 1)..].Trim() : null;
                continue;
            }
            if (section is null) continue;
            var property = line.Trim();
            int space = property.IndexOfAny([' ', '\t']);
            if (space <= 0 || property[..space] != "path") continue;
            if (Normalize(property[(space + 1)..].Trim()) == wanted && section.Length > 0) return section;
        }
        return null;
    }

    private static string Normalize(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
}
