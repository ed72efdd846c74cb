using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;

namespace BackupFs.FsHost.Staging;

/// <summary>What a directory path below MOUNTPOINT/staging/ names.</summary>
public enum StagingPathKind
{
    /// <summary>Not a valid staging path: mkdir answers EINVAL.</summary>
    Invalid,
    /// <summary>staging/ itself.</summary>
    Root,
    /// <summary>"ns" (or ".../ns/&lt;name&gt;/ns"): the directory that holds namespace names.</summary>
    NamespaceList,
    /// <summary>"ns/&lt;name&gt;[/ns/&lt;name&gt;...]": a namespace.</summary>
    Namespace,
    /// <summary>"[ns/...]&lt;type&gt;": the directory of one backup type.</summary>
    TypeDirectory,
    /// <summary>"[ns/...]&lt;type&gt;/&lt;id&gt;": a session for one backup group.</summary>
    Group,
}

/// <summary>
/// Parses staging paths, <c>staging/[ns/&lt;name&gt;/...]&lt;type&gt;/&lt;id&gt;/</c>, with the datastore's name rules,
/// and says where a group's session state lives (<c>&lt;store&gt;/.backupfs/staging/&lt;group path&gt;</c>).
/// </summary>
public static class StagingPath
{
    public const string SpoolDirName = "staging";

    /// <param name="components">path components below staging/ (no empty components)</param>
    public static StagingPathKind Classify(IReadOnlyList<string> components, out BackupNamespace? ns, out BackupGroup? group)
    {
        ns = null;
        group = null;
        var nsParts = new List<string>();
        int i = 0;
        while (i < components.Count && components[i] == "ns")
        {
            if (i + 1 == components.Count) { TryNamespace(nsParts, out ns); return ns is null ? StagingPathKind.Invalid : StagingPathKind.NamespaceList; }
            nsParts.Add(components[i + 1]);
            i += 2;
        }
        if (!TryNamespace(nsParts, out ns)) return StagingPathKind.Invalid;
        int rest = components.Count - i;
        if (rest == 0) return nsParts.Count > 0 ? StagingPathKind.Namespace : StagingPathKind.Root;
        if (!BackupTypes.TryParse(components[i], out var type)) return StagingPathKind.Invalid;
        if (rest == 1) return StagingPathKind.TypeDirectory;
        if (rest > 2 || !NameRules.IsBackupId(components[i + 1])) return StagingPathKind.Invalid;
        group = new BackupGroup(ns!, type, components[i + 1]);
        return StagingPathKind.Group;
    }

    /// <summary>Parses "[ns/a/]host/web1" (the form `backupfs commit` is given) as a group, or throws InvalidNameException.</summary>
    public static BackupGroup ParseGroup(string relative)
    {
        var parts = relative.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return Classify(parts, out _, out var group) == StagingPathKind.Group
            ? group!
            : throw new InvalidNameException($"'{relative}' is not a staging session path ([ns/<name>/...]<type>/<id>)");
    }

    /// <summary>The directory holding a group's session state (spooled data, journal).</summary>
    public static string SessionDirectory(DataStore store, BackupGroup group) =>
        Path.Combine(store.PrivateDir, SpoolDirName, group.RelativePath);

    private static bool TryNamespace(List<string> parts, out BackupNamespace? ns)
    {
        try { ns = BackupNamespace.FromComponents(parts); return true; }
        catch (InvalidNameException) { ns = null; return false; }
    }
}
