using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Diagnostics;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

/// <summary>Builds the same per-path listing as vectors/mktree.py --list, from an archive or a JSON file.</summary>
internal static class PxarListing
{
    public static SortedDictionary<string, string> FromJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var e = p.Value;
            var sb = new StringBuilder();
            sb.Append($"type={e.GetProperty("type").GetString()} mode={e.GetProperty("mode").GetString()} uid={e.GetProperty("uid").GetInt64()} gid={e.GetProperty("gid").GetInt64()} mtime={e.GetProperty("mtime_ns").GetInt64()}");
            if (e.TryGetProperty("size", out var size)) sb.Append($" size={size.GetInt64()} sha256={e.GetProperty("sha256").GetString()} nlink={e.GetProperty("nlink").GetInt64()}");
            if (e.TryGetProperty("target", out var t)) sb.Append($" target={t.GetString()}");
            if (e.TryGetProperty("xattrs", out var x))
                foreach (var kv in x.EnumerateObject().OrderBy(k => k.Name, StringComparer.Ordinal)) sb.Append($" xattr:{kv.Name}={kv.Value.GetString()}");
            result[p.Name] = sb.ToString();
        }
        return result;
    }

    /// <summary>Runs mktree.py --list on a local directory.</summary>
    public static SortedDictionary<string, string> FromMktree(TempDir tmp, string dir)
    {
        var psi = new ProcessStartInfo("python3") { ArgumentList = { Path.Combine(TestPaths.Vectors, "mktree.py"), "--list", dir }, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var json = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        var file = tmp.Sub("listing-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(file, json);
        return FromJson(file);
    }

    public static async Task<SortedDictionary<string, string>> FromArchiveAsync(PxarAccessor accessor, bool withContent = true)
    {
        var links = await PxarHardlinkCounter.CountAsync(accessor);
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        await WalkAsync(accessor, accessor.Root, ".", result, links, withContent);
        return result;
    }

    private static async Task WalkAsync(PxarAccessor a, PxarEntry entry, string path, SortedDictionary<string, string> result, Dictionary<long, int> links, bool withContent)
    {
        var e = await a.FollowHardlinkAsync(entry);
        var s = e.Stat;
        char type = e.Kind switch
        {
            PxarEntryKind.Directory => 'd', PxarEntryKind.File => '-', PxarEntryKind.Symlink => 'l', PxarEntryKind.Fifo => 'p',
            PxarEntryKind.Socket => 's', PxarEntryKind.BlockDevice => 'b', PxarEntryKind.CharDevice => 'c', _ => '?',
        };
        var sb = new StringBuilder($"type={type} mode=0o{Convert.ToString(s.Permissions, 8)} uid={s.Uid} gid={s.Gid} mtime={s.MtimeTotalNanoseconds}");
        if (e.Kind == PxarEntryKind.File)
        {
            string sha = "";
            if (withContent)
            {
                using var stream = a.OpenFileStream(e);
                sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
            }
            sb.Append($" size={e.Size} sha256={sha} nlink={links.GetValueOrDefault(e.Identity, 1)}");
        }
        if (e.Kind == PxarEntryKind.Symlink) sb.Append($" target={Encoding.UTF8.GetString(e.LinkTarget!)}");
        else
            foreach (var x in (await a.ReadMetadataAsync(e)).Xattrs.OrderBy(x => Encoding.UTF8.GetString(x.Name), StringComparer.Ordinal))
                sb.Append($" xattr:{Encoding.UTF8.GetString(x.Name)}={Encoding.UTF8.GetString(x.Value)}");
        result[path] = sb.ToString();
        if (e.Kind == PxarEntryKind.Directory)
            foreach (var child in await a.ListDirectoryAsync(e))
                await WalkAsync(a, child, path == "." ? child.NameString : path + "/" + child.NameString, result, links, withContent);
    }

    public static void AssertEqual(SortedDictionary<string, string> expected, SortedDictionary<string, string> actual)
    {
        var missing = expected.Keys.Except(actual.Keys).ToList();
        var extra = actual.Keys.Except(expected.Keys).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing: [{string.Join(", ", missing)}] extra: [{string.Join(", ", extra)}]");
        foreach (var (k, v) in expected) Assert.Equal($"{k}: {v}", $"{k}: {actual[k]}");
    }
}
