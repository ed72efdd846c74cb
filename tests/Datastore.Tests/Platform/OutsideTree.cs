using System.Security.Cryptography;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Tests.Platform;

/// <summary>
/// A directory outside the store that planted symlinks point into, and a fingerprint of everything in
/// it (paths, types, sizes, modes, content hashes; symlinks not followed), to prove nothing there changed.
/// </summary>
public static class OutsideTree
{
    /// <summary>Fills <paramref name="dir"/> with a small tree shaped like part of a datastore.</summary>
    public static void Populate(string dir)
    {
        foreach (var sub in new[] { "host/y/2020-01-01T00:00:00Z", "vm/100/2020-01-01T00:00:00Z", "0000", "data" })
            Directory.CreateDirectory(Path.Combine(dir, sub));
        File.WriteAllText(Path.Combine(dir, "host/y/2020-01-01T00:00:00Z/index.json.blob"), "precious");
        File.WriteAllText(Path.Combine(dir, "host/y/owner"), "someone\n");
        File.WriteAllText(Path.Combine(dir, "vm/100/2020-01-01T00:00:00Z/index.json.blob"), "precious too");
        File.WriteAllText(Path.Combine(dir, "data/secret"), "do not touch");
        File.WriteAllBytes(Path.Combine(dir, "0000", new string('0', 64)), new byte[100]);
    }

    public static string Fingerprint(string dir)
    {
        var lines = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var st = Posix.LStat(Posix.PathBytes(path));
            string content = st.IsRegular ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "";
            lines.Add($"{Path.GetRelativePath(dir, path)} {st.Mode:x} {st.Size} {st.MtimeSeconds}.{st.MtimeNanoseconds} {content}");
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }
}
