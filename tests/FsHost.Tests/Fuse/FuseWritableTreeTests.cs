using System.Text;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Fuse;

[Collection("fuse")]
public sealed class FuseWritableTreeTests(ITestOutputHelper output)
{
    [FuseFact]
    public void Create_write_read_rename_and_unlink_files()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount();
        var a = m.PathOf("rw/a.txt");
        var b = m.PathOf("rw/b.txt");
        Bounded.Io(() => File.WriteAllText(a, "first"));
        Bounded.Io(() => File.AppendAllText(a, " second"));
        Assert.Equal("first second", Bounded.Io(() => File.ReadAllText(a)));

        var big = GeneratedContent.Bytes(777, 3 << 20);
        Bounded.Io(() => File.WriteAllBytes(m.PathOf("rw/big"), big));
        Assert.True(big.AsSpan().SequenceEqual(Bounded.Io(() => File.ReadAllBytes(m.PathOf("rw/big")))));

        Bounded.Io(() => File.Move(a, b));
        Assert.False(Bounded.Io(() => File.Exists(a)));
        Assert.Equal("first second", Bounded.Io(() => File.ReadAllText(b)));

        Bounded.Io(() => File.Delete(b));
        Assert.False(Bounded.Io(() => File.Exists(b)));
        var rm = Bounded.Run("rm", m.PathOf("rw/b.txt"));
        Assert.NotEqual(0, rm.ExitCode);
    }

    [FuseFact]
    public void Directories_links_truncate_chmod_utimens_and_xattrs()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount();
        var dir = m.PathOf("rw/sub");
        Assert.Equal(0, Bounded.Run("mkdir", dir).ExitCode);
        Bounded.Io(() => File.WriteAllText(Path.Combine(dir, "x"), "0123456789"));
        var notEmpty = Bounded.Run("rmdir", dir);
        Assert.Contains("Directory not empty", notEmpty.Stderr);

        Assert.Equal(0, Bounded.Run("truncate", "-s", "4", Path.Combine(dir, "x")).ExitCode);
        Assert.Equal("0123", Bounded.Io(() => File.ReadAllText(Path.Combine(dir, "x"))));
        Assert.Equal(0, Bounded.Run("truncate", "-s", "6", Path.Combine(dir, "x")).ExitCode);
        Assert.Equal("0123\0\0", Bounded.Io(() => File.ReadAllText(Path.Combine(dir, "x"))));

        Assert.Equal(0, Bounded.Run("chmod", "600", Path.Combine(dir, "x")).ExitCode);
        Assert.Equal("600", Bounded.Run("stat", "-c", "%a", Path.Combine(dir, "x")).Stdout.Trim());

        Assert.Equal(0, Bounded.Run("touch", "-d", "2001-02-03 04:05:06.123456789 UTC", Path.Combine(dir, "x")).ExitCode);
        Assert.Equal("981173106.123456789", Bounded.Run("stat", "-c", "%.9Y", Path.Combine(dir, "x")).Stdout.Trim());
        Assert.Equal("981173106.123456789", Bounded.Run("stat", "-c", "%.9X", Path.Combine(dir, "x")).Stdout.Trim());

        Assert.Equal(0, Bounded.Run("ln", "-s", "sub/x", m.PathOf("rw/lnk")).ExitCode);
        Assert.Equal("sub/x", Bounded.Run("readlink", m.PathOf("rw/lnk")).Stdout.Trim());
        Assert.Equal(0, Bounded.Run("ln", Path.Combine(dir, "x"), m.PathOf("rw/hard")).ExitCode);
        Assert.Equal("2", Bounded.Run("stat", "-c", "%h", m.PathOf("rw/hard")).Stdout.Trim());

        Assert.Equal(0, Bounded.Run("setfattr", "-n", "user.k", "-v", "value", Path.Combine(dir, "x")).ExitCode);
        Assert.Equal("value", Bounded.Run("getfattr", "--only-values", "-n", "user.k", Path.Combine(dir, "x")).Stdout);
        Assert.Equal(0, Bounded.Run("setfattr", "-x", "user.k", Path.Combine(dir, "x")).ExitCode);
        Assert.NotEqual(0, Bounded.Run("getfattr", "-n", "user.k", Path.Combine(dir, "x")).ExitCode);

        Assert.Equal(0, Bounded.Run("mkfifo", m.PathOf("rw/fifo")).ExitCode);
        Assert.Equal("fifo", Bounded.Run("stat", "-c", "%F", m.PathOf("rw/fifo")).Stdout.Trim());

        Bounded.Io(() => File.Delete(Path.Combine(dir, "x")));
        Assert.Equal(0, Bounded.Run("rmdir", dir).ExitCode);
        Assert.False(Bounded.Io(() => Directory.Exists(dir)));
        var left = Bounded.Io(() => Directory.GetFileSystemEntries(m.PathOf("rw")).Select(p => Path.GetFileName(p)!).Order().ToArray());
        Assert.Equal(["fifo", "hard", "lnk"], left);
    }

    [FuseFact]
    public void Parallel_readers_of_the_large_file_all_get_exact_bytes()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount();
        var path = m.PathOf("big.bin");
        const int readers = 4;
        var region = InMemoryFileSystem.BigSize / readers;
        var ok = Bounded.Io(() =>
        {
            var tasks = Enumerable.Range(0, readers).Select(r => Task.Run(() =>
            {
                using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
                var buffer = new byte[(1 << 20) + 13]; // odd size: requests straddle megabytes
                var expected = new byte[buffer.Length];
                for (var offset = r * region; offset < (r + 1) * region; offset += buffer.Length)
                {
                    var n = (int)Math.Min(buffer.Length, (r + 1) * region - offset);
                    f.Position = offset;
                    f.ReadExactly(buffer.AsSpan(0, n));
                    GeneratedContent.Fill(offset, expected.AsSpan(0, n));
                    if (!expected.AsSpan(0, n).SequenceEqual(buffer.AsSpan(0, n))) return false;
                }
                return true;
            })).ToArray();
            return Task.WhenAll(tasks).GetAwaiter().GetResult();
        }, TimeSpan.FromSeconds(120));
        Assert.All(ok, Assert.True);
    }

    [FuseFact]
    public void Entry_invalidation_makes_the_kernel_look_a_name_up_again()
    {
        if (!FuseEnvironment.Usable(output)) return;
        using var m = new TestMount();
        // hello.txt has a 60 s entry timeout; invalidating it must work and not disturb access.
        Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(m.PathOf("hello.txt"))));
        Assert.True(m.Fs.Notifier!.InvalidateEntry(1, Encoding.ASCII.GetBytes("hello.txt")).IsOk);
        Assert.True(m.Fs.Notifier!.InvalidateNode(1).IsOk);
        Assert.Equal(InMemoryFileSystem.HelloText, Bounded.Io(() => File.ReadAllText(m.PathOf("hello.txt"))));
    }
}
