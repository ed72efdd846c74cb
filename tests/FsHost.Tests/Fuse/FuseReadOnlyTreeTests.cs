using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>One mount shared by the read tests (a fresh one per class).</summary>
public sealed class SharedMount : IDisposable
{
    private TestMount? _mount;
    public TestMount Get() => _mount ??= new TestMount();
    public void Dispose() => _mount?.Dispose();
}

[Collection("fuse")]
public sealed class FuseReadOnlyTreeTests(SharedMount shared, ITestOutputHelper output) : IClassFixture<SharedMount>
{
    private bool Usable(out TestMount mount)
    {
        mount = null!;
        if (!FuseEnvironment.Usable(output)) return false;
        mount = shared.Get();
        return true;
    }

    [FuseFact]
    public void Stat_shows_type_size_and_mode()
    {
        if (!Usable(out var m)) return;
        var r = Bounded.Run("stat", "-c", "%s %a %F", m.PathOf("hello.txt"));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal($"{InMemoryFileSystem.HelloText.Length} 644 regular file", r.Stdout.Trim());
        var d = Bounded.Run("stat", "-c", "%F", m.PathOf("many"));
        Assert.Equal("directory", d.Stdout.Trim());
        Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(m.PathOf("hello.txt"))));
    }

    [FuseFact]
    public void Listing_of_many_entries_spans_several_readdir_buffers_without_loss_or_duplicates()
    {
        if (!Usable(out var m)) return;
        var before = m.Fs.ReadDirectoryCalls;
        var ls = Bounded.Run("ls", "-1", "-f", m.PathOf("many"));
        Assert.Equal(0, ls.ExitCode);
        var names = ls.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(n => n is not "." and not "..").ToList();
        Assert.Equal(InMemoryFileSystem.ManyCount, names.Count);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.True(m.Fs.ReadDirectoryCalls - before >= 2, "the listing must need more than one reply buffer");

        var files = Bounded.Io(() => Directory.GetFiles(m.PathOf("many")));
        Assert.Equal(InMemoryFileSystem.ManyCount, files.Length);
        Assert.Equal("2999\n", Bounded.Io(() => File.ReadAllText(m.PathOf("many/file-02999-with-a-longer-name.txt"))));

        var root = Bounded.Io(() => Directory.GetFileSystemEntries(m.Root).Select(p => Path.GetFileName(p)!).OrderBy(n => n, StringComparer.Ordinal).ToArray());
        Assert.Equal(["big.bin", "hello.txt", "link", "many", "rw"], root);
    }

    [FuseFact]
    public void Reads_at_odd_offsets_match_the_generated_content()
    {
        if (!Usable(out var m)) return;
        var path = m.PathOf("big.bin");
        Assert.Equal(InMemoryFileSystem.BigSize, Bounded.Io(() => new FileInfo(path).Length));
        long[] offsets = [0, 1, 4095, 4097, (1 << 20) - 3, (1 << 20) + 12345, 3 * (1L << 20) + 999, InMemoryFileSystem.BigSize - 100];
        Bounded.Io(() =>
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            foreach (var offset in offsets)
            {
                var length = (int)Math.Min(70_001, InMemoryFileSystem.BigSize - offset);
                var buffer = new byte[length];
                f.Position = offset;
                f.ReadExactly(buffer);
                Assert.True(GeneratedContent.Bytes(offset, length).AsSpan().SequenceEqual(buffer), $"mismatch at offset {offset}");
            }
            f.Position = InMemoryFileSystem.BigSize - 10;
            Assert.Equal(10, f.Read(new byte[100]));
        });
    }

    [FuseFact]
    public void Sequential_read_of_64_MiB_is_byte_exact_and_dd_reports_throughput()
    {
        if (!Usable(out var m)) return;
        var path = m.PathOf("big.bin");
        var expected = new byte[1 << 20];
        var actual = new byte[1 << 20];
        Bounded.Io(() =>
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            for (long offset = 0; offset < InMemoryFileSystem.BigSize; offset += actual.Length)
            {
                f.ReadExactly(actual);
                GeneratedContent.Fill(offset, expected);
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"mismatch in the MiB at {offset}");
            }
            Assert.Equal(0, f.Read(actual));
        }, TimeSpan.FromSeconds(120));

        // Drop this file's page cache through our own notification, then one dd run: the figure
        // goes to the test output only.
        Assert.Equal(BackupFs.FsHost.Vfs.Errno.Ok, m.Fs.Notifier!.InvalidateNode(m.Fs.BigId));
        var dd = Bounded.Run("dd", $"if={path}", "of=/dev/null", "bs=1M");
        Assert.Equal(0, dd.ExitCode);
        output.WriteLine("dd: " + dd.Stderr.Trim().Split('\n').Last());
        Assert.Contains("67108864 bytes", dd.Stderr);

        // As root the session raised the bdi read-ahead to 1 MiB, so buffered reads arrive as 1 MiB requests.
        var bdi = BackupFs.FsHost.Fuse.MountTable.Find(m.Root)!.Device;
        Assert.Equal("1024", File.ReadAllText($"/sys/class/bdi/{bdi}/read_ahead_kb").Trim());
        Assert.Equal(1 << 20, m.Fs.LargestRead);

        var sha = Bounded.Run("sha256sum", path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long offset = 0; offset < InMemoryFileSystem.BigSize; offset += expected.Length)
        {
            GeneratedContent.Fill(offset, expected);
            hash.AppendData(expected);
        }
        Assert.Equal(Convert.ToHexStringLower(hash.GetHashAndReset()), sha.Stdout.Split(' ')[0]);
    }

    [FuseFact]
    public void Readlink_returns_the_target_and_following_the_link_reads_the_file()
    {
        if (!Usable(out var m)) return;
        var r = Bounded.Run("readlink", m.PathOf("link"));
        Assert.Equal("hello.txt", r.Stdout.Trim());
        Assert.Equal("hello.txt", Bounded.Io(() => new FileInfo(m.PathOf("link")).LinkTarget));
        Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(m.PathOf("link"))));
    }

    [FuseFact]
    public void Extended_attributes_are_listed_and_read()
    {
        if (!Usable(out var m)) return;
        var one = Bounded.Run("getfattr", "--only-values", "-n", "user.color", m.PathOf("hello.txt"));
        Assert.Equal(0, one.ExitCode);
        Assert.Equal("blue", one.Stdout);
        var all = Bounded.Run("getfattr", "-d", "-m", "-", m.PathOf("hello.txt"));
        Assert.Contains("user.color=\"blue\"", all.Stdout);
        Assert.Contains("user.empty", all.Stdout);
        var missing = Bounded.Run("getfattr", "-n", "user.nothing", m.PathOf("hello.txt"));
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("No such attribute", missing.Stderr);
        var none = Bounded.Run("getfattr", "-d", m.PathOf("many"));
        Assert.Equal("", none.Stdout.Trim());
    }

    [FuseFact]
    public void Missing_names_are_not_found_repeatedly()
    {
        if (!Usable(out var m)) return;
        for (var i = 0; i < 3; i++)
        {
            Assert.False(Bounded.Io(() => File.Exists(m.PathOf("does-not-exist"))));
            var r = Bounded.Run("stat", m.PathOf("does-not-exist"));
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("No such file or directory", r.Stderr);
        }
    }

    [FuseFact]
    public void Changes_in_the_read_only_tree_fail_with_EROFS()
    {
        if (!Usable(out var m)) return;
        foreach (var (tool, args) in new (string, string[])[]
        {
            ("touch", [m.PathOf("new-file")]),
            ("mkdir", [m.PathOf("new-dir")]),
            ("rm", ["-f", m.PathOf("hello.txt")]),
            ("chmod", ["600", m.PathOf("hello.txt")]),
            ("truncate", ["-s", "0", m.PathOf("hello.txt")]),
            ("setfattr", ["-n", "user.x", "-v", "1", m.PathOf("hello.txt")]),
            ("mv", [m.PathOf("hello.txt"), m.PathOf("renamed.txt")]),
            ("ln", ["-s", "x", m.PathOf("new-link")]),
        })
        {
            var r = Bounded.Run(tool, args);
            Assert.True(r.ExitCode != 0, $"{tool} should fail");
            Assert.Contains("Read-only file system", r.Stderr);
        }
        Assert.ThrowsAny<IOException>(() => Bounded.Io(() => File.AppendAllText(m.PathOf("hello.txt"), "x")));
        Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(m.PathOf("hello.txt"))));
    }

    [FuseFact]
    public void Statfs_reports_the_filesystem_numbers()
    {
        if (!Usable(out var m)) return;
        var r = Bounded.Run("stat", "-f", "-c", "%b %f %S %T", m.Root);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("1048576 524288 4096 fuseblk", Regex.Replace(r.Stdout.Trim(), "fuse\\S*", "fuseblk"));
    }
}
