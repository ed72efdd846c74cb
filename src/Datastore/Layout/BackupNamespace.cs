using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Layout;

/// <summary>
/// A namespace: 0..7 SAFE_ID components. Shown as "a/b/c"; stored at "ns/a/ns/b/ns/c".
/// </summary>
public sealed class BackupNamespace : IEquatable<BackupNamespace>
{
    public static readonly BackupNamespace Root = new([]);

    public IReadOnlyList<string> Components { get; }

    private BackupNamespace(string[] components) => Components = components;

    public bool IsRoot => Components.Count == 0;
    public int Depth => Components.Count;
    public string Name => IsRoot ? "" : Components[^1];

    /// <summary>Parses the display form "a/b/c" ("" or "/" is the root namespace).</summary>
    public static BackupNamespace Parse(string? display)
    {
        if (string.IsNullOrEmpty(display) || display == "/") return Root;
        var parts = display.Trim('/').Split('/');
        return FromComponents(parts);
    }

    public static BackupNamespace FromComponents(IEnumerable<string> components)
    {
        var parts = components.ToArray();
        foreach (var p in parts)
            if (!NameRules.IsSafeId(p))
                throw new InvalidNameException($"invalid namespace component '{p}' (allowed: letters, digits, '_', '.', '-'; not starting with '.' or '-')");
        if (parts.Length > NameRules.MaxNamespaceDepth)
            throw new InvalidNameException($"namespace '{string.Join('/', parts)}' is deeper than {NameRules.MaxNamespaceDepth} levels");
        if (string.Join('/', parts).Length > NameRules.MaxNamespaceLength)
            throw new InvalidNameException($"namespace name longer than {NameRules.MaxNamespaceLength} characters");
        return new BackupNamespace(parts);
    }

    /// <summary>
    /// Reads the leading "ns/&lt;name&gt;/ns/&lt;name&gt;/…" components of a datastore-relative path;
    /// <paramref name="next"/> is the index of the first component after them.
    /// </summary>
    public static BackupNamespace FromPathPrefix(string[] parts, out int next)
    {
        var names = new List<string>();
        next = 0;
        while (next + 1 < parts.Length && parts[next] == "ns") { names.Add(parts[next + 1]); next += 2; }
        return FromComponents(names);
    }

    public BackupNamespace Child(string name) => FromComponents(Components.Append(name));

    public BackupNamespace? Parent => IsRoot ? null : new BackupNamespace(Components.Take(Components.Count - 1).ToArray());

    /// <summary>Datastore-relative directory, '/'-separated: "" for root, "ns/a/ns/b" otherwise.</summary>
    public string RelativePath => string.Concat(Components.Select((c, i) => (i == 0 ? "" : "/") + "ns/" + c));

    public string Display => string.Join('/', Components);

    public bool Equals(BackupNamespace? other) => other is not null && Components.SequenceEqual(other.Components);
    public override bool Equals(object? obj) => Equals(obj as BackupNamespace);
    public override int GetHashCode() => Display.GetHashCode(StringComparison.Ordinal);
    public override string ToString() => IsRoot ? "<root>" : Display;
}
