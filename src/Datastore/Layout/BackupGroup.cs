namespace BackupFs.Datastore.Layout;

/// <summary>A backup group: namespace + type + id, stored at "&lt;ns path&gt;/&lt;type&gt;/&lt;id&gt;".</summary>
public sealed record BackupGroup
{
    public BackupNamespace Namespace { get; }
    public BackupType Type { get; }
    public string Id { get; }

    public BackupGroup(BackupNamespace ns, BackupType type, string id)
    {
        Namespace = ns;
        Type = type;
        Id = NameRules.CheckBackupId(id);
    }

    public string RelativePath => Join(Namespace.RelativePath, $"{Type.ToName()}/{Id}");

    /// <summary>"vm/100" (without namespace).</summary>
    public string Display => $"{Type.ToName()}/{Id}";

    /// <summary>Parses "type/id" in a namespace.</summary>
    public static BackupGroup Parse(string typeSlashId, BackupNamespace? ns = null)
    {
        var parts = typeSlashId.Trim('/').Split('/');
        if (parts.Length != 2) throw new Formats.InvalidNameException($"invalid group '{typeSlashId}' (expected <type>/<id>, e.g. host/web1)");
        return new BackupGroup(ns ?? BackupNamespace.Root, BackupTypes.Parse(parts[0]), parts[1]);
    }

    /// <summary>PBS order: type, then ids numerically when both are numbers, else byte-wise.</summary>
    public static int Compare(BackupGroup a, BackupGroup b)
    {
        int c = a.Type.CompareTo(b.Type);
        if (c != 0) return c;
        bool an = ulong.TryParse(a.Id, out var ai), bn = ulong.TryParse(b.Id, out var bi);
        if (an && bn) return ai.CompareTo(bi);
        if (an != bn) return an ? -1 : 1;
        return string.CompareOrdinal(a.Id, b.Id);
    }

    internal static string Join(string a, string b) => a.Length == 0 ? b : a + "/" + b;
    public override string ToString() => Namespace.IsRoot ? Display : $"{Namespace.Display}:{Display}";
}
