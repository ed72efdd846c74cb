using System.Security.Cryptography;
using System.Text;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Tests.TestSupport;

/// <summary>
/// Recreates the source trees the pxar vectors were made from (tests/vectors/README.md, pxar/):
/// the same names, contents, modes, owners, symlinks, hardlink pair, fifo, xattrs and mtimes as
/// tests/vectors/mktree.py makes them, so tests need no Python and the tree does not depend on the
/// file system it is made on. <see cref="CreateA"/> gives the tree behind A.pxar / A.mpxar+A.ppxar
/// (A.listing.json describes it); <see cref="CreateBig"/> adds mktree.py's 'big' part.
/// </summary>
public static class VectorTree
{
    /// <summary>The seed A.pxar was made with (mktree.py DIR vectorsA).</summary>
    public const string SeedA = "vectorsA";

    /// <summary>
    /// mktree.py stamps mtimes while walking the tree with os.walk: deepest directories first,
    /// directories of equal depth in readdir order. The disk the vectors were made on listed the
    /// root in this order; everywhere else a directory has at most one subdirectory.
    /// </summary>
    private static readonly string[] RootWalkOrderA = ["with space", "odd", "a", "empty dir"];

    private const long FirstTime = 1_600_000_000, TimeStep = 3607;
    private const uint Nanoseconds = 123_456_789;

    /// <summary>Makes the tree A.listing.json lists (as root: one file gets uid 1234, gid 5678).</summary>
    public static void CreateA(string root) => Create(root, SeedA, big: false);

    /// <summary>mktree.py DIR SEED big: the A shapes plus a directory of 1500 files and 24 nested levels.</summary>
    public static void CreateBig(string root, string seed) => Create(root, seed, big: true);

    private static void Create(string root, string seed, bool big)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(root))!);
        Posix.Mkdir(Bytes(root), 0x1ED);
        Posix.Chmod(Bytes(root), 0x1ED);
        var files = new (string Path, byte[] Data)[]
        {
            ("a/small.txt", "hello, backup\n"u8.ToArray()),
            ("a/empty", []),
            ("a/b/c/deep.bin", Stream(seed + "deep", 70001)),
            ("a/b/large.bin", Stream(seed + "large", 1572864 + 17)),
            ("a/b/text.txt", Repeat("compressible line of text\n"u8, 20000)),
            ("with space/na\u00efve \u00fcn\u00efc\u00f6d\u00e9.txt", Encoding.UTF8.GetBytes("caf\u00e9\n")),
            ("odd/-leading-dash", "dash\n"u8.ToArray()),
            ("odd/back\\slash", "bs\n"u8.ToArray()),
            ("odd/new\nline", "nl\n"u8.ToArray()),
            ("odd/" + new string('L', 255), "long name\n"u8.ToArray()),
        };
        foreach (var (rel, data) in files) WriteFile(root, rel, data);
        MakeDirectories(root, "empty dir");
        Posix.Symlink("../a/b/text.txt"u8, Bytes(Path.Combine(root, "odd/rel-link")));
        Posix.Symlink("/etc/hostname"u8, Bytes(Path.Combine(root, "odd/abs-link")));
        Posix.Symlink("does/not/exist"u8, Bytes(Path.Combine(root, "odd/dangling")));
        Posix.Link(Bytes(Path.Combine(root, "a/small.txt")), Bytes(Path.Combine(root, "a/hardlink-to-small")));
        Posix.Mkfifo(Bytes(Path.Combine(root, "odd/fifo")), 0x1A4);
        Posix.Chmod(Bytes(Path.Combine(root, "odd/fifo")), 0x1A4);
        Posix.SetXattr(Bytes(Path.Combine(root, "a/small.txt")), "user.comment"u8, "kept"u8);
        Posix.SetXattr(Bytes(Path.Combine(root, "a/b")), "user.dirattr"u8, "on a dir"u8);
        if (big)
        {
            MakeDirectories(root, "many");
            for (int i = 0; i < 1500; i++)
            {
                var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(i.ToString())))[..8];
                WriteFile(root, $"many/f{i:D5}-{hash}", Stream(seed + i, i % 97));
            }
            var levels = string.Join('/', Enumerable.Range(0, 24).Select(i => $"level{i}"));
            MakeDirectories(root, levels);
            WriteFile(root, levels + "/bottom", "bottom\n"u8.ToArray());
        }
        Posix.Chmod(Bytes(Path.Combine(root, "a/b/c/deep.bin")), 0x180);   // 0600
        Posix.LChown(Bytes(Path.Combine(root, "a/b/c/deep.bin")), 1234, 5678);
        Posix.Chmod(Bytes(Path.Combine(root, "odd/-leading-dash")), 0x1ED); // 0755
        Posix.Chmod(Bytes(Path.Combine(root, "empty dir")), 0x3FF);        // 01777

        // mtimes last, deepest directory first, so directory times stick.
        long t = FirstTime;
        foreach (var dir in WalkOrder(root, big).OrderByDescending(d => d.Length == 0 ? 0 : d.Count(c => c == '/') + 1))
        {
            var full = dir.Length == 0 ? root : Path.Combine(root, dir);
            var (filesHere, dirsHere) = Children(full);
            foreach (var name in filesHere.Concat(dirsHere))
            {
                t += TimeStep;
                Posix.SetTimesNoFollow(Bytes(Path.Combine(full, name)), t, Nanoseconds);
            }
        }
        Posix.SetTimesNoFollow(Bytes(Path.Combine(root, "a/empty")), -86400L * 365 * 5, 0);
        Posix.SetTimesNoFollow(Bytes(root), 1_700_000_000, 0);
    }

    /// <summary>The directories (relative, "" = root) in the order os.walk met them on the vectors' disk.</summary>
    private static List<string> WalkOrder(string root, bool big)
    {
        var order = new List<string>();
        void Visit(string rel)
        {
            order.Add(rel);
            var (_, dirs) = Children(rel.Length == 0 ? root : Path.Combine(root, rel));
            if (rel.Length == 0)
                dirs = [.. RootWalkOrderA.Where(dirs.Contains), .. dirs.Where(d => !RootWalkOrderA.Contains(d))];
            foreach (var d in dirs) Visit(rel.Length == 0 ? d : rel + "/" + d);
        }
        Visit("");
        return order;
    }

    /// <summary>Sorted non-directory names and sorted directory names (as sorted(filenames), sorted(dirnames)).</summary>
    private static (List<string> Files, List<string> Directories) Children(string dir)
    {
        var files = new List<string>();
        var dirs = new List<string>();
        foreach (var raw in Posix.ReadDirectory(Bytes(dir)))
        {
            var name = Encoding.UTF8.GetString(raw);
            (Posix.LStat(Bytes(Path.Combine(dir, name))).IsDirectory ? dirs : files).Add(name);
        }
        files.Sort(CompareCodePoints);
        dirs.Sort(CompareCodePoints);
        return (files, dirs);
    }

    // Python sorts str by code point; UTF-8 byte order is the same order.
    private static int CompareCodePoints(string a, string b) => Bytes(a).AsSpan().SequenceCompareTo(Bytes(b));

    /// <summary>The stream mktree.py fills files with: SHA-256 of "SEED:i" for i = 0, 1, … concatenated, cut to length.</summary>
    public static byte[] Stream(string seed, int length)
    {
        var result = new byte[length];
        for (int i = 0, at = 0; at < length; i++, at += 32)
        {
            var block = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}:{i}"));
            block.AsSpan(0, Math.Min(32, length - at)).CopyTo(result.AsSpan(at));
        }
        return result;
    }

    private static byte[] Repeat(ReadOnlySpan<byte> line, int count)
    {
        var result = new byte[line.Length * count];
        for (int i = 0; i < count; i++) line.CopyTo(result.AsSpan(i * line.Length));
        return result;
    }

    private static void WriteFile(string root, string rel, byte[] data)
    {
        var path = Path.Combine(root, rel);
        MakeDirectories(root, Path.GetDirectoryName(rel)!);
        using var f = Posix.Open(Bytes(path), OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.NoFollow, 0x1A4, FileAccess.Write);
        f.Write(data);
        Posix.Chmod(Bytes(path), 0x1A4); // 0644 whatever the umask
    }

    // Directories 0755 whatever the umask, as mktree.py's runs had them.
    private static void MakeDirectories(string root, string rel)
    {
        var at = root;
        foreach (var part in rel.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            at = Path.Combine(at, part);
            if (Posix.TryLStat(Bytes(at)) is null)
            {
                Posix.Mkdir(Bytes(at), 0x1ED);
                Posix.Chmod(Bytes(at), 0x1ED);
            }
        }
    }

    private static byte[] Bytes(string path) => Encoding.UTF8.GetBytes(path);
}
