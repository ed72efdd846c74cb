using BackupFs.Datastore.Layout;

namespace BackupFs.S3.Layout;

/// <summary>
/// Validates a datastore-relative content path (the part of a key after "&lt;store&gt;/.cnt/")
/// component by component, with the same rules as local datastore paths:
/// <c>(ns/&lt;SAFE_ID&gt;){0..7}</c> followed by <c>.namespace</c> (depth ≥ 1),
/// <c>&lt;type&gt;/&lt;id&gt;/{owner,notes}</c> or <c>&lt;type&gt;/&lt;id&gt;/&lt;time&gt;/&lt;file&gt;</c>.
/// Anything else (.., empty components, unknown names) is rejected, so a key read from a bucket
/// can never name a file outside the datastore.
/// </summary>
public static class ContentPathRules
{
    public const int MaxNamespaceDepth = 7;
    public const int MaxNamespaceNameLength = 256;
    public const string NamespaceMarker = ".namespace";
    public const string ProtectedMarker = ".protected";
    public const string OwnerFile = "owner";
    public const string NotesFile = "notes";

    private static readonly string[] BackupTypes = ["vm", "ct", "host"];

    /// <summary>Null when the path is a valid content file path, else the reason.</summary>
    public static string? CheckFile(string relativePath) => Check(relativePath, directory: false);

    /// <summary>
    /// Null when the path is a valid directory that content lives under (a namespace, a type
    /// directory, a group or a snapshot); the empty string is the root namespace.
    /// </summary>
    public static string? CheckDirectory(string relativePath) =>
        relativePath.Length == 0 ? null : Check(relativePath, directory: true);

    /// <summary>Namespace component and datastore name (SAFE_ID).</summary>
    public static bool IsSafeId(string s) => NameRules.IsSafeId(s);

    /// <summary>YYYY-MM-DDTHH:MM:SSZ naming a real instant after the epoch.</summary>
    public static bool IsSnapshotTime(string s) => NameRules.TryParseBackupTime(s, out _);

    /// <summary>A snapshot file: an archive (*.blob, *.fidx, *.didx) or the .protected marker.</summary>
    public static bool IsSnapshotFileName(string s) => s == ProtectedMarker || NameRules.IsArchiveFileName(s);

    private static string? Check(string path, bool directory)
    {
        if (path.Length == 0) return "empty path";
        if (path.Length > 1024) return "path longer than 1024 characters";
        var parts = path.Split('/');
        foreach (var p in parts)
        {
            if (p.Length == 0) return "empty path component";
            if (p is "." or "..") return $"'{p}' component";
        }

        int i = 0, depth = 0, nsLength = 0;
        while (i < parts.Length && parts[i] == "ns")
        {
            if (i + 1 >= parts.Length) return directory ? null : "'ns' without a namespace name";
            var name = parts[i + 1];
            if (!IsSafeId(name)) return $"invalid namespace name '{name}'";
            if (++depth > MaxNamespaceDepth) return $"namespace deeper than {MaxNamespaceDepth} levels";
            nsLength += name.Length + (depth > 1 ? 1 : 0);
            if (nsLength > MaxNamespaceNameLength) return $"namespace name longer than {MaxNamespaceNameLength} characters";
            i += 2;
        }
        int rest = parts.Length - i;
        if (rest == 0) return directory ? null : "a namespace is a directory, not a file";

        if (parts[i] == NamespaceMarker)
        {
            if (directory) return "'.namespace' is a file";
            if (depth == 0) return "the root namespace has no '.namespace' marker";
            return rest == 1 ? null : "'.namespace' is not a directory";
        }
        if (Array.IndexOf(BackupTypes, parts[i]) < 0) return $"unknown backup type '{parts[i]}'";
        if (rest == 1) return directory ? null : "a backup type is a directory, not a file";
        if (!NameRules.IsBackupId(parts[i + 1])) return $"invalid backup id '{parts[i + 1]}'";
        if (rest == 2) return directory ? null : "a backup group is a directory, not a file";

        var third = parts[i + 2];
        if (third is OwnerFile or NotesFile)
        {
            if (directory) return $"'{third}' is a file";
            return rest == 3 ? null : $"'{third}' is not a directory";
        }
        if (!IsSnapshotTime(third)) return $"invalid snapshot time '{third}'";
        if (rest == 3) return directory ? null : "a snapshot is a directory, not a file";
        if (directory) return "too many components for a directory";
        if (rest > 4) return "too many components below a snapshot";
        var file = parts[i + 3];
        return IsSnapshotFileName(file) ? null : $"invalid snapshot file name '{file}'";
    }
}
