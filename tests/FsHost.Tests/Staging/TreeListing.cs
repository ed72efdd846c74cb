using System.Security.Cryptography;
using System.Text;
using BackupFs.FsHost.Tests.Fuse;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>
/// An lstat listing of a tree read with ordinary tools (find, getfattr), independent of the
/// code under test: type, mode with set-ID and sticky bits, owner, link count, size, content
/// hash, symlink target, hardlink groups, every xattr (POSIX ACLs included, in hex), and
/// optionally mtimes. One line per entry, sorted, so two trees compare as strings.
/// </summary>
public static class TreeListing
{
    [Flags]
    public enum Times { None = 0, Files = 1, Directories = 2, All = 3 }

    public static string Of(string root, Times times = Times.All, Func<string, bool>? skip = null)
    {
        var find = Bounded.RunWithTimeout(TimeSpan.FromMinutes(2), "find", root, "-mindepth", "1", "-printf", @"%P\0%y\0%m\0%U\0%G\0%n\0%s\0%T@\0%l\0%i\0");
        if (find.ExitCode != 0) throw new InvalidOperationException($"find failed: {find.Stderr}");
        var fields = find.Stdout.Split('\0');
        var xattrs = Xattrs(root);
        var firstOfInode = new Dictionary<string, string>();
        var lines = new List<string>();
        for (int i = 0; i + 10 <= fields.Length; i += 10)
        {
            var (path, type, mode, uid, gid, nlink, size, mtime, target, ino) =
                (fields[i], fields[i + 1], fields[i + 2], fields[i + 3], fields[i + 4], fields[i + 5], fields[i + 6], fields[i + 7], fields[i + 8], fields[i + 9]);
            if (skip?.Invoke(path) == true) continue;
            var line = new StringBuilder($"{path} {type} {mode} {uid}:{gid}");
            if (type == "f")
            {
                line.Append($" n={nlink} size={size} sha={Sha(Path.Combine(root, path))}");
                if (firstOfInode.TryGetValue(ino, out var first)) line.Append($" link={first}");
                else firstOfInode[ino] = path;
            }
            if (type == "l") line.Append($" -> {target}");
            bool withTime = type == "d" ? (times & Times.Directories) != 0 : type != "l" && (times & Times.Files) != 0;
            if (withTime) line.Append($" mtime={mtime}");
            if (xattrs.TryGetValue(path, out var x)) line.Append(' ').Append(string.Join(' ', x.Order(StringComparer.Ordinal)));
            lines.Add(line.ToString());
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }

    private static Dictionary<string, List<string>> Xattrs(string root)
    {
        var r = Bounded.RunWithTimeout(TimeSpan.FromMinutes(2), "bash", "-c", "cd \"$1\" && getfattr -R -h -d -m - -e hex . 2>/dev/null; true", "_", root);
        var map = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var line in r.Stdout.Split('\n'))
        {
            if (line.StartsWith("# file: ", StringComparison.Ordinal))
            {
                var path = line[8..];
                path = path == "." ? "" : path.StartsWith("./", StringComparison.Ordinal) ? path[2..] : path;
                map[path] = current = [];
            }
            else if (line.Length > 0 && current is not null) current.Add(line);
        }
        return map;
    }

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))[..16];
}
