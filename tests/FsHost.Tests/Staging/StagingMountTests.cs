using System.Text;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Staging.Nodes;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tests.Tree;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>rsync, cp and friends into MOUNTPOINT/staging of a real mount, committed as snapshots and checked with ordinary tools.</summary>
[Collection("fuse")]
public class StagingMountTests : IDisposable
{
    private static readonly StagingOptions Manual = new() { CommitDelay = TimeSpan.FromHours(1), OpenFilesWait = TimeSpan.FromSeconds(1) };
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    public StagingMountTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => _tmp.Dispose();

    private static ToolResult Rsync(string src, string dst, params string[] extra)
    {
        AgeDirectories(src);
        var r = Bounded.RunWithTimeout(TimeSpan.FromMinutes(3), "rsync", ["-aHAX", "--delete", .. extra, src.TrimEnd('/') + "/", dst.TrimEnd('/') + "/"]);
        Assert.True(r.ExitCode == 0, $"rsync failed ({r.ExitCode}): {r.Stderr}");
        return r;
    }

    /// <summary>
    /// Gives the source's directories whole-second mtimes in the past. rsync compares times in
    /// seconds, so a directory changed in the same second as its copy would keep the copy's own
    /// nanoseconds (on a local destination as well) and the exact listings would differ.
    /// </summary>
    private static void AgeDirectories(string src)
    {
        var at = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        foreach (var dir in Directory.EnumerateDirectories(src, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Append(src))
        {
            Directory.SetLastWriteTimeUtc(dir, at);
            at = at.AddSeconds(1);
        }
    }

    private static string Commit(string session)
    {
        var (code, stdout, stderr) = Task.Run(() => CliRunner.RunAsync("commit", session)).WaitAsync(TimeSpan.FromMinutes(3)).GetAwaiter().GetResult();
        Assert.True(code == 0, $"backupfs commit failed: {stderr}");
        return stdout.Trim();
    }

    private static Dictionary<string, long> LastCommit(string session)
    {
        var text = Bounded.Run("getfattr", "--only-values", "-n", StagingControlXattrs.LastCommitXattr, session).Stdout;
        return text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('='))
            .Where(p => long.TryParse(p[1], out _)).ToDictionary(p => p[0], p => long.Parse(p[1])); // snapshot=..., rebase=running left out
    }

    /// <summary>The listing of a snapshot's tree through the read-only side of the mount equals the source's.</summary>
    private static void AssertSnapshotEquals(string src, string snapshotRoot)
    {
        Assert.Equal(CliRunner.MkTree("--list", src), Bounded.Io(() => CliRunner.MkTree("--list", snapshotRoot), TimeSpan.FromMinutes(2)));
        var dry = Bounded.Run("rsync", "-aHAX", "--delete", "--dry-run", "--itemize-changes", src + "/", snapshotRoot + "/");
        Assert.Equal(0, dry.ExitCode);
        Assert.Equal("", dry.Stdout.Trim());
    }

    [FuseFact]
    public async Task RsyncIntoStagingBecomesASnapshotEqualToTheSource()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var src = _tmp.Sub("src");
        CliRunner.MkTree(src, "staging");
        using var mount = new DatastoreMount(store, staging: Manual);
        var session = mount.PathOf("staging/host/web1");

        Rsync(src, session); // rsync makes the group's session directory itself (mkdir)
        Assert.Equal(CliRunner.MkTree("--list", src), Bounded.Io(() => CliRunner.MkTree("--list", session)));
        var name = Commit(session);
        Assert.StartsWith("host/web1/", name);

        var snap = SnapshotRef.Parse(name);
        Assert.Equal(snap, store.LatestSnapshot(BackupGroup.Parse("host/web1")));
        AssertSnapshotEquals(src, mount.PathOf(name + "/root.pxar"));
        Assert.Equal(["index.json.blob", "root.mpxar.didx", "root.ppxar.didx"],
            Directory.GetFiles(store.FullPath(snap.RelativePath)).Select(p => Path.GetFileName(p)!).Order().ToArray());

        // The datastore core restores it, and verify finds every chunk.
        var restored = _tmp.Sub("restored");
        await CliRunner.RunOkAsync("restore", store.Root, name, "root.pxar", restored);
        Assert.Equal(CliRunner.MkTree("--list", src), CliRunner.MkTree("--list", restored));
        await CliRunner.RunOkAsync("verify", store.Root);

        // Nothing changed: the session is clean, and the next rsync transfers nothing.
        var again = Rsync(src, session, "--itemize-changes");
        Assert.Equal("", again.Stdout.Trim());
        Assert.DoesNotContain(mount.Staging!.Sessions, s => s.Dirty);
        Assert.Empty(mount.Errors);
    }

    /// <summary>The same staged tree is committed exactly over /dev/fuse and io_uring, with passthrough offered or not.</summary>
    [FuseTheory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void RsyncIntoStagingIsCommittedExactlyOverEachTransport(bool ioUring, bool passthrough)
    {
        if (!FuseEnvironment.Usable(_output)) return;
        if (ioUring && !FuseTransports.KernelHasIoUring) { _output.WriteLine("skipped: this kernel has no FUSE over io_uring"); return; }
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var src = _tmp.Sub("src");
        CliRunner.MkTree(src, "staging");
        // Big enough to be prepared in the background, and small files around it.
        File.WriteAllBytes(Path.Combine(src, "big.bin"), Enumerable.Range(0, 6_000_000).Select(i => (byte)(i * 31 >> 7)).ToArray());
        using var mount = new DatastoreMount(store, staging: Manual, transport: (ioUring ? FuseIoUring.On : FuseIoUring.Off, passthrough));
        var session = mount.PathOf("staging/host/t");
        Rsync(src, session);
        var name = Commit(session);
        AssertSnapshotEquals(src, mount.PathOf(name + "/root.pxar"));
        Assert.Empty(mount.Errors);
    }

    /// <summary>
    /// With passthrough the kernel writes the spool files itself: the size shows while a writer is
    /// open and after, times set afterwards stay, a reader of base content and a writer coexist
    /// (no EIO from mixed open modes), truncation works, and the snapshots hold exactly the bytes.
    /// </summary>
    [FuseFact]
    public void PassthroughWritesShowTheirSizeAndAreCommittedExactly()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: Manual, transport: (FuseIoUring.Off, true));
        if (!mount.Session.PassesThrough) { _output.WriteLine("skipped: this kernel does not pass files through"); return; }
        var session = mount.PathOf("staging/host/pt");
        Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
        var path = Path.Combine(session, "grow.bin");
        var data = new byte[3 << 20];
        new Random(11).NextBytes(data);
        Bounded.Io(() =>
        {
            using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, 1);
            fs.Write(data, 0, 1 << 20);
            fs.Flush();
            Assert.True(mount.Session.PassthroughBackingCount > 0, "the open was not passed through");
            Assert.Equal(1 << 20, new FileInfo(path).Length);
            fs.Write(data, 1 << 20, data.Length - (1 << 20));
            fs.Flush();
            Assert.Equal(data.Length, new FileInfo(path).Length);
        });
        Assert.Equal(0, mount.Session.RequestCounters.Snapshot().GetValueOrDefault("WRITE"));
        Assert.Equal(data, Bounded.Io(() => File.ReadAllBytes(path)));
        var mtime = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        Bounded.Io(() => File.SetLastWriteTimeUtc(path, mtime));
        Assert.Equal(mtime, Bounded.Io(() => File.GetLastWriteTimeUtc(path)));
        var first = Commit(session);
        Assert.Equal(data, Bounded.Io(() => File.ReadAllBytes(mount.PathOf(first + "/root.pxar/grow.bin"))));
        Assert.Equal(mtime, Bounded.Io(() => File.GetLastWriteTimeUtc(mount.PathOf(first + "/root.pxar/grow.bin"))));

        // Now the content is the base snapshot's: a reader opened before the first write, then a writer.
        Bounded.Io(() =>
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
            var head = new byte[100];
            reader.ReadExactly(head);
            Assert.Equal(data[..100], head);
            using (var writer = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1))
            {
                writer.Seek(10, SeekOrigin.Begin);
                writer.Write("XYZ"u8);
            }
            reader.Seek(0, SeekOrigin.Begin);
            reader.ReadExactly(head);
            Assert.Equal("XYZ"u8.ToArray(), head[10..13]);
        });
        "XYZ"u8.CopyTo(data.AsSpan(10));
        Assert.Equal(data, Bounded.Io(() => File.ReadAllBytes(path)));
        Bounded.Io(() =>
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            fs.SetLength(1000);
            Assert.Equal(1000, new FileInfo(path).Length);
        });
        // Times set while the writer is still open (cp -a, tar) stay after the close; a later write moves them on.
        var early = Path.Combine(session, "early.bin");
        Bounded.Io(() =>
        {
            using var fs = new FileStream(early, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, 1);
            fs.Write(data, 0, 5000);
            fs.Flush();
            File.SetLastWriteTimeUtc(early, mtime);
        });
        Assert.Equal(mtime, Bounded.Io(() => File.GetLastWriteTimeUtc(early)));
        Bounded.Io(() =>
        {
            using var fs = new FileStream(early, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1);
            fs.Seek(0, SeekOrigin.End);
            fs.Write(data, 0, 10);
        });
        Assert.True(Bounded.Io(() => File.GetLastWriteTimeUtc(early)) > DateTime.UtcNow.AddMinutes(-5));
        Assert.Equal(5010, Bounded.Io(() => new FileInfo(early).Length));
        var second = Commit(session);
        Assert.Equal(data[..1000], Bounded.Io(() => File.ReadAllBytes(mount.PathOf(second + "/root.pxar/grow.bin"))));
        Assert.Equal(5010, Bounded.Io(() => new FileInfo(mount.PathOf(second + "/root.pxar/early.bin")).Length));
        Assert.Empty(mount.Errors);
    }

    /// <summary>No node acts on close(2): the first FLUSH is answered ENOSYS and the kernel sends no more.</summary>
    [FuseFact]
    public void ClosingFilesCostsNoFlushAfterTheFirst()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: Manual);
        var session = mount.PathOf("staging/host/flush");
        Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
        for (int i = 0; i < 20; i++) Bounded.Io(() => File.WriteAllText(Path.Combine(session, $"f{i}"), $"content {i}"));
        for (int i = 0; i < 20; i++) Assert.Equal($"content {i}", Bounded.Io(() => File.ReadAllText(Path.Combine(session, $"f{i}"))));
        Assert.True(mount.Session.RequestCounters.Snapshot().GetValueOrDefault("FLUSH") <= 1);
        var name = Commit(session);
        Assert.Equal("content 7", Bounded.Io(() => File.ReadAllText(mount.PathOf(name + "/root.pxar/f7"))));
        Assert.Empty(mount.Errors);
    }

    [FuseFact]
    public void IncrementalRunWritesOnlyWhatChanged()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var src = _tmp.Sub("src");
        var rng = new Random(5);
        long total = 0;
        for (int i = 0; i < 200; i++)
        {
            var dir = Path.Combine(src, $"d{i % 10}");
            Directory.CreateDirectory(dir);
            var data = new byte[i % 20 == 0 ? 1_500_000 + i : 3000 + i * 37];
            rng.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, $"f{i:000}.bin"), data);
            total += data.Length;
        }
        using var mount = new DatastoreMount(store, staging: Manual);
        var session = mount.PathOf("staging/host/inc");
        Rsync(src, session);
        Commit(session);

        // Change 1% of the files (2 of 200, one of them large), delete one, add one.
        var changed = new[] { "d0/f000.bin", "d3/f013.bin" };
        long changedBytes = 0;
        foreach (var rel in changed)
        {
            var p = Path.Combine(src, rel);
            var data = File.ReadAllBytes(p);
            data[data.Length / 2] ^= 0xFF;
            File.WriteAllBytes(p, data);
            File.SetLastWriteTimeUtc(p, DateTime.UtcNow.AddMinutes(1));
            changedBytes += data.Length;
        }
        File.Delete(Path.Combine(src, "d9/f199.bin"));
        File.WriteAllText(Path.Combine(src, "d9/new.txt"), "new\n");
        long ChunkBytes() => Directory.EnumerateFiles(Path.Combine(store.Root, ".chunks"), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        long chunksBefore = ChunkBytes();
        var itemized = Rsync(src, session, "--itemize-changes").Stdout;
        Assert.Contains("d9/f199.bin", itemized);
        var name = Commit(session);
        // The commit answers once its snapshot is complete; the session restarts from it after the
        // answer, and a request on the session (this listing) waits for that.
        Assert.NotEmpty(Directory.EnumerateFileSystemEntries(session));

        var stats = LastCommit(session);
        // The two changed files and the new one: read by the commit, or cut in the background while rsync ran.
        Assert.Equal(3, stats["written_files"] + stats["prepared_files"]);
        Assert.Equal(197, stats["reused_files"]); // 200 - 1 deleted - 2 changed
        Assert.All(new[] { "drain_ms", "write_ms", "rebase_ms" }, k => Assert.InRange(stats[k], 0, 600_000)); // where the commit spent its time
        Assert.Equal(changedBytes + 4, stats["written_bytes"] + stats["prepared_bytes"]);
        // New chunks (the commit's and the background's) hold the changed files' data (random: incompressible) and little else.
        long added = ChunkBytes() - chunksBefore;
        Assert.True(added <= changedBytes + 64 * 1024, $"{added} bytes of new chunks for {changedBytes} changed bytes of a {total}-byte tree");
        AssertSnapshotEquals(src, mount.PathOf(name + "/root.pxar"));
        Assert.False(File.Exists(mount.PathOf(name + "/root.pxar/d9/f199.bin")));
    }

    [FuseFact]
    public void RenamesHardlinksAndDeletesAreCaptured()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var src = _tmp.Sub("src");
        CliRunner.MkTree(src, "renames");
        using var mount = new DatastoreMount(store, staging: Manual);
        var session = mount.PathOf("staging/host/ren");
        Rsync(src, session);
        Commit(session);

        // Rename a directory with files, swap names, add hardlinks, delete a tree.
        Directory.Move(Path.Combine(src, "a/b"), Path.Combine(src, "moved-b"));
        Directory.Move(Path.Combine(src, "with space"), Path.Combine(src, "renamed space"));
        File.Move(Path.Combine(src, "moved-b/text.txt"), Path.Combine(src, "moved-b/text-renamed.txt"));
        Bounded.Run("ln", Path.Combine(src, "moved-b/large.bin"), Path.Combine(src, "large-link"));
        Directory.Delete(Path.Combine(src, "empty dir"));
        Rsync(src, session);
        // rsync -H makes hardlinks after it has set directory times, which moves them on any
        // filesystem (a local directory too); the next run sets them again, as a nightly job does.
        Rsync(src, session);
        var name = Commit(session);
        AssertSnapshotEquals(src, mount.PathOf(name + "/root.pxar"));

        // The same operations done directly in the session behave as on a local filesystem.
        Bounded.Io(() =>
        {
            var s = session;
            Directory.Move(Path.Combine(s, "moved-b"), Path.Combine(s, "again"));
            Assert.True(File.Exists(Path.Combine(s, "again/large.bin")));
            File.WriteAllText(Path.Combine(s, "x"), "one");
            File.WriteAllText(Path.Combine(s, "y"), "two");
            File.Move(Path.Combine(s, "x"), Path.Combine(s, "y"), overwrite: true);
            Assert.Equal("one", File.ReadAllText(Path.Combine(s, "y")));
            Assert.False(File.Exists(Path.Combine(s, "x")));
            Assert.Throws<IOException>(() => Directory.Delete(Path.Combine(s, "again")));
        });
        Assert.Equal(Bounded.Run("stat", "-c", "%i %h", Path.Combine(session, "large-link")).Stdout,
            Bounded.Run("stat", "-c", "%i %h", Path.Combine(session, "again/large.bin")).Stdout);
        Assert.Contains("2", Bounded.Run("stat", "-c", "%h", Path.Combine(session, "large-link")).Stdout);
    }

    [FuseFact]
    public void EveryFileOperationWorksInASession()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: Manual);
        Assert.Equal(0, Bounded.Run("mkdir", "-p", mount.PathOf("staging/ns/team/ns/sub/ct/200")).ExitCode);
        var s = mount.PathOf("staging/ns/team/ns/sub/ct/200");
        Bounded.Io(() =>
        {
            File.WriteAllText(Path.Combine(s, "f"), "0123456789");
            using (var f = new FileStream(Path.Combine(s, "f"), FileMode.Open, FileAccess.ReadWrite))
            {
                f.Position = 20; // a hole
                f.Write("end"u8);
                f.SetLength(22);
            }
            Directory.CreateDirectory(Path.Combine(s, "dir/sub"));
            File.CreateSymbolicLink(Path.Combine(s, "dir/link"), "../f");
        });
        Assert.Equal(0, Bounded.Run("mkfifo", Path.Combine(s, "pipe")).ExitCode);
        Assert.Equal(0, Bounded.Run("mknod", Path.Combine(s, "null"), "c", "1", "3").ExitCode);
        Assert.Equal(0, Bounded.Run("chmod", "640", Path.Combine(s, "f")).ExitCode);
        Assert.Equal(0, Bounded.Run("chown", "1234:5678", Path.Combine(s, "f")).ExitCode);
        Assert.Equal(0, Bounded.Run("touch", "-d", "2001-02-03 04:05:06.5", Path.Combine(s, "f")).ExitCode);
        Assert.Equal(0, Bounded.Run("setfattr", "-n", "user.k", "-v", "v1", Path.Combine(s, "f")).ExitCode);
        Assert.Equal(0, Bounded.Run("setfattr", "-n", "user.gone", "-v", "x", Path.Combine(s, "f")).ExitCode);
        Assert.Equal(0, Bounded.Run("setfattr", "-x", "user.gone", Path.Combine(s, "f")).ExitCode);
        Assert.Equal(0, Bounded.Run("ln", Path.Combine(s, "f"), Path.Combine(s, "dir/hard")).ExitCode);
        Assert.Equal(0, Bounded.Run("sync", Path.Combine(s, "f")).ExitCode);
        Assert.Contains("Available", Bounded.Run("df", s).Stdout);
        var expected = "0123456789\0\0\0\0\0\0\0\0\0\0en";
        Assert.Equal(expected, Bounded.Io(() => File.ReadAllText(Path.Combine(s, "dir/hard"))));

        var name = Commit(s);
        Assert.StartsWith("ns/team/ns/sub/ct/200/", name);
        Assert.True(store.NamespaceExists(BackupNamespace.Parse("team/sub")));
        var root = mount.PathOf(name + "/root.pxar");
        Assert.Equal(expected, Bounded.Io(() => File.ReadAllText(Path.Combine(root, "f"))));
        Assert.Equal("640 1234 5678 2 981173106", Bounded.Run("stat", "-c", "%a %u %g %h %Y", Path.Combine(root, "f")).Stdout.Trim());
        Assert.Equal("fifo", Bounded.Run("stat", "-c", "%F", Path.Combine(root, "pipe")).Stdout.Trim());
        Assert.Equal("character special file 1,3", Bounded.Run("stat", "-c", "%F %t,%T", Path.Combine(root, "null")).Stdout.Trim());
        Assert.Equal("../f", Bounded.Run("readlink", Path.Combine(root, "dir/link")).Stdout.Trim());
        var xattrs = Bounded.Run("getfattr", "-d", Path.Combine(root, "f")).Stdout;
        Assert.Contains("user.k=\"v1\"", xattrs);
        Assert.DoesNotContain("user.gone", xattrs);
        Assert.True(Bounded.Io(() => Directory.Exists(Path.Combine(root, "dir/sub"))));
    }

    [FuseFact]
    public void BadNamesAndWritesOutsideSessionsAreRefused()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: Manual);
        Assert.Equal(0, Bounded.Run("mkdir", mount.PathOf("staging/ns")).ExitCode);
        foreach (var bad in new[] { "staging/disk", "staging/host/bad name", "staging/ns/-x", "staging/host/.hidden" })
        {
            var r = Bounded.Run("mkdir", mount.PathOf(bad));
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("Invalid argument", r.Stderr);
        }
        var file = Bounded.Run("touch", mount.PathOf("staging/host/file"));
        Assert.NotEqual(0, file.ExitCode);
        Assert.Contains("Invalid argument", file.Stderr);
        var outside = Bounded.Run("mkdir", mount.PathOf("host"));
        Assert.Contains("Read-only file system", outside.Stderr);
        Assert.Equal(0, Bounded.Run("mkdir", mount.PathOf("staging/host/ok")).ExitCode);
        var across = Bounded.Run("mv", mount.PathOf("staging/host/ok"), mount.PathOf("staging/vm"));
        Assert.NotEqual(0, across.ExitCode);

        // A commit that cannot happen explains itself: a file is still open for writing.
        var session = mount.PathOf("staging/host/ok");
        using (Bounded.Io(() => new FileStream(Path.Combine(session, "held"), FileMode.Create)))
        {
            var (code, _, stderr) = Task.Run(() => CliRunner.RunAsync("commit", session)).WaitAsync(TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
            Assert.Equal(1, code);
            Assert.Contains("still open for writing", stderr);
        }
        Assert.StartsWith("host/ok/", Commit(session));
        var notSession = Task.Run(() => CliRunner.RunAsync("commit", _tmp.Path)).WaitAsync(TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
        Assert.Equal(1, notSession.Code);
        Assert.Contains("not a staging session", notSession.Err);
    }

    /// <summary>Over passthrough the kernel writes the spool file and meets the full disk itself; over the
    /// writeback cache the mount does, and cuts the file back to the prefix it stored without gaps.</summary>
    [FuseTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void SpoolDiskFullGivesEnospcAndTheMountKeepsWorking(bool passthrough)
    {
        if (!FuseEnvironment.Usable(_output)) return;
        if (Environment.UserName != "root") { _output.WriteLine("skipped: mounting a small tmpfs needs root"); return; }
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var spool = Path.Combine(store.PrivateDir, StagingPath.SpoolDirName);
        Directory.CreateDirectory(spool);
        Assert.Equal(0, Bounded.Run("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", spool).ExitCode);
        try
        {
            using var mount = new DatastoreMount(store, staging: Manual, transport: (FuseTransports.Default, passthrough));
            var session = mount.PathOf("staging/host/full");
            Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
            var source = Path.Combine(_tmp.Path, "random");
            File.WriteAllBytes(source, RandomBytes(16 << 20));
            var dd = Bounded.Run("dd", $"if={source}", $"of={session}/big", "bs=1M");
            Assert.NotEqual(0, dd.ExitCode);
            Assert.Contains("No space left on device", dd.Stderr);
            // The file holds what was stored, a prefix of what was written without gaps, and says so.
            var stagingSession = mount.Staging!.Sessions.Single();
            var big = stagingSession.LookupAsync(stagingSession.Root, System.Text.Encoding.UTF8.GetBytes("big"), CancellationToken.None).AsTask().GetAwaiter().GetResult();
            var spooled = big.Value.SpoolPath!; // beside it: empty files made ahead for later creates
            long stored = new FileInfo(spooled).Length;
            // The writeback cache may flush later pages first and fill the disk with them: then the
            // prefix without gaps is empty, which is as honest as a partial one.
            Assert.InRange(stored, 0, 4 << 20);
            Assert.True(Bounded.Eventually(() => Bounded.Run("stat", "-c", "%s", $"{session}/big").Stdout.Trim() == stored.ToString(), TimeSpan.FromSeconds(10)),
                $"stat shows {Bounded.Run("stat", "-c", "%s", $"{session}/big").Stdout.Trim()}, {stored} stored");
            Assert.Equal(stored, Bounded.Io(() => File.ReadAllBytes($"{session}/big")).Length);
            Assert.Equal(0, Bounded.Run("cmp", "-n", stored.ToString(), source, $"{session}/big").ExitCode);
            Assert.Equal(0, Bounded.Run("rm", $"{session}/big").ExitCode);
            Bounded.Io(() => File.WriteAllText(Path.Combine(session, "small"), "fits\n"));
            var name = Commit(session);
            Assert.Equal("fits\n", Bounded.Io(() => File.ReadAllText(mount.PathOf(name + "/root.pxar/small"))));
            Assert.False(File.Exists(mount.PathOf(name + "/root.pxar/big")));
        }
        finally { Bounded.Run("umount", "-l", spool); }
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        new Random(7).NextBytes(b);
        return b;
    }

    [FuseFact]
    public void AJournalThatCannotBeReplayedIsMovedAsideAndTheMountWorks()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var dir = StagingPath.SessionDirectory(store, BackupGroup.Parse("host/broken"));
        using (var j = StagingJournal.Create(dir, null))
            j.Append(new JournalRecord { Op = JournalOp.Unlink, Parent = 99, Name = "x"u8.ToArray() });
        using var mount = new DatastoreMount(store, staging: Manual);
        Assert.Contains(mount.StagingLog, l => l.Contains("cannot resume") && l.Contains("staging-broken"));
        Assert.False(Directory.Exists(dir));
        // The session is there again, empty, and says what happened to the old changes.
        var error = Bounded.Run("getfattr", "--only-values", "-n", StagingControlXattrs.ErrorXattr, mount.PathOf("staging/host/broken"));
        Assert.Equal(0, error.ExitCode);
        Assert.Contains("could not be resumed", error.Stdout);
        Assert.Contains("staging-broken", error.Stdout);
        Assert.Equal(0, Bounded.Run("mkdir", "-p", mount.PathOf("staging/host/broken")).ExitCode);
        Bounded.Io(() => File.WriteAllText(mount.PathOf("staging/host/broken/ok"), "ok"));
        Assert.StartsWith("host/broken/", Commit(mount.PathOf("staging/host/broken")));
    }

    [FuseFact]
    public void AnIdleSessionIsCommittedByItselfAndUnmountCommitsTheRest()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var auto = BackupGroup.Parse("host/auto");
        using (var mount = new DatastoreMount(store, staging: new StagingOptions { CommitDelay = TimeSpan.FromSeconds(1) }))
        {
            Assert.Equal(0, Bounded.Run("mkdir", mount.PathOf("staging/host/auto")).ExitCode);
            Bounded.Io(() => File.WriteAllText(mount.PathOf("staging/host/auto/a"), "a"));
            // No file open, nothing changing: the commit delay passes and the snapshot appears.
            Assert.True(Bounded.Eventually(() => store.LatestSnapshot(auto) is not null && mount.Staging!.Sessions.All(s => !s.Dirty), TimeSpan.FromSeconds(30)));
        }
        using (var mount = new DatastoreMount(store, staging: Manual))
        {
            Assert.Equal("a", Bounded.Io(() => File.ReadAllText(mount.PathOf("staging/host/auto/a"))));
            Bounded.Io(() => File.WriteAllText(mount.PathOf("staging/host/auto/b"), "b"));
            Assert.Single(store.ListSnapshots(auto));
        } // unmount: the pending change is committed before the session ends
        var latest = store.LatestSnapshot(auto)!;
        Assert.Equal(2, store.ListSnapshots(auto).Count);
        var restored = _tmp.Sub("restored");
        CliRunner.RunOkAsync("restore", store.Root, latest.RelativePath, "root.pxar", restored).GetAwaiter().GetResult();
        Assert.Equal(["a", "b"], Directory.GetFiles(restored).Select(p => Path.GetFileName(p)!).Order().ToArray());
    }
}
