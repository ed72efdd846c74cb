using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

/// <summary>Builds the same per-path listing as vectors/mktree.py --list, from an archive, a directory or a JSON file.</summary>
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

    /// <summary>Lists a local directory as mktree.py --list does (lstat, SHA-256 of files, link targets, xattrs).</summary>
    public static SortedDictionary<string, string> FromDirectory(string dir)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var pending = new Stack<string>([""]);
        while (pending.Count > 0)
        {
            var rel = pending.Pop();
            var full = rel.Length == 0 ? dir : Path.Combine(dir, rel);
            var path = Posix.PathBytes(full);
            var st = Posix.LStat(path);
            char type = FileTypeBits.Of(st.Mode) switch
            {
                FileTypeBits.Directory => 'd', FileTypeBits.Regular => '-', FileTypeBits.Symlink => 'l', FileTypeBits.Fifo => 'p',
                FileTypeBits.Socket => 's', FileTypeBits.BlockDevice => 'b', FileTypeBits.CharDevice => 'c', _ => '?',
            };
            var sb = new StringBuilder($"type={type} mode=0o{Convert.ToString(st.Mode & FileTypeBits.PermissionMask, 8)} uid={st.Uid} gid={st.Gid} mtime={st.MtimeSeconds * 1_000_000_000L + st.MtimeNanoseconds}");
            if (st.IsRegular)
            {
                using var f = Posix.Open(path, OpenFlags.ReadOnly | OpenFlags.NoFollow, 0, FileAccess.Read);
                sb.Append($" size={st.Size} sha256={Convert.ToHexStringLower(SHA256.HashData(f))} nlink={st.Nlink}");
            }
            if (st.IsSymlink) sb.Append($" target={Encoding.UTF8.GetString(Posix.ReadLink(path))}");
            else
                foreach (var name in Posix.ListXattrs(path).Select(n => Encoding.UTF8.GetString(n)).Order(StringComparer.Ordinal))
                    sb.Append($" xattr:{name}={Encoding.UTF8.GetString(Posix.GetXattr(path, Encoding.UTF8.GetBytes(name)) ?? [])}");
            result[rel.Length == 0 ? "." : rel] = sb.ToString();
            if (st.IsDirectory)
                foreach (var child in Posix.ReadDirectory(path))
                    pending.Push(rel.Length == 0 ? Encoding.UTF8.GetString(child) : rel + "/" + Encoding.UTF8.GetString(child));
        }
        return result;
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
