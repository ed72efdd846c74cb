using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>A datastore written by the test, mounted for real and checked with ordinary tools.</summary>
[Collection("fuse")]
public class MountedStoreTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    public MountedStoreTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => _tmp.Dispose();

    private async Task<(DataStore Store, string Source, SnapshotRef Snapshot)> BackupTreeAsync()
    {
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var src = _tmp.Sub("src");
        CliRunner.MkTree(src, "mounted");
        var big = new byte[12 * 1024 * 1024 + 3];
        new Random(3).NextBytes(big);
        File.WriteAllBytes(Path.Combine(src, "big.bin"), big);
        SnapshotRef snap;
        await using (var w = await BackupStarter.BeginAsync(store, BackupGroup.Parse("host/web1"), new BackupOptions { BackupTime = 1_700_000_000 }))
        {
            snap = w.Snapshot;
            await DirectoryBackup.WriteAsync(w, "root.pxar.didx", src);
            await w.FinishAsync();
        }
        return (store, src, snap);
    }

    [FuseFact]
    public async Task TreeMatchesTheSourceWithOrdinaryTools()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var (store, src, snap) = await BackupTreeAsync();
        using var mount = new DatastoreMount(store);
        var root = mount.PathOf($"host/web1/{snap.TimeName}/root.pxar");

        Assert.Equal(CliRunner.MkTree("--list", src), Bounded.Io(() => CliRunner.MkTree("--list", root)));
        var rsync = Bounded.Run("rsync", "-a", "--dry-run", "-i", "--no-times-only", src + "/", root + "/");
        if (rsync.ExitCode != 0) rsync = Bounded.Run("rsync", "-a", "--dry-run", "-i", src + "/", root + "/");
        Assert.Equal(0, rsync.ExitCode);
        Assert.Equal("", rsync.Stdout.Trim());
        Assert.Equal(0, Bounded.Run("cmp", Path.Combine(src, "big.bin"), Path.Combine(root, "big.bin")).ExitCode);
        Assert.Equal("does/not/exist", Bounded.Run("readlink", Path.Combine(root, "odd/dangling")).Stdout.Trim());
        Assert.Equal("../a/b/text.txt", Bounded.Run("readlink", Path.Combine(root, "odd/rel-link")).Stdout.Trim());
        // "." and ".." lead a listing as on a disk filesystem, ".." with the inode of the directory above.
        var listed = Bounded.Run("ls", "-a1i", Path.Combine(root, "a")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([".", ".."], listed.Take(2).Select(l => l.Trim().Split(' ', 2)[1]));
        Assert.Equal(Bounded.Run("stat", "-c", "%i", root).Stdout.Trim(), listed[1].Trim().Split(' ', 2)[0]);

        // Random reads at odd offsets across chunk boundaries.
        var expected = File.ReadAllBytes(Path.Combine(src, "big.bin"));
        Bounded.Io(() =>
        {
            using var f = File.OpenRead(Path.Combine(root, "big.bin"));
            var buf = new byte[70001];
            foreach (long off in new long[] { 1, 4 * 1024 * 1024 - 5, 8 * 1024 * 1024 + 17, expected.Length - 100 })
            {
                f.Position = off;
                int n = f.ReadAtLeast(buf, (int)Math.Min(buf.Length, expected.Length - off), throwOnEndOfStream: false);
                Assert.True(buf.AsSpan(0, n).SequenceEqual(expected.AsSpan((int)off, n)), $"offset {off}");
            }
        });

        // Read-only everywhere.
        var touch = Bounded.Run("touch", Path.Combine(root, "new-file"));
        Assert.NotEqual(0, touch.ExitCode);
        Assert.Contains("Read-only file system", touch.Stderr);
        Assert.NotEqual(0, Bounded.Run("rmdir", mount.PathOf($"host/web1/{snap.TimeName}")).ExitCode);

        // Snapshot metadata as extended attributes.
        Assert.Contains("user.backupfs.protected=\"0\"", Bounded.Run("getfattr", "-d", mount.PathOf($"host/web1/{snap.TimeName}")).Stdout);
        Assert.Contains("root@pam", Bounded.Run("getfattr", "-n", "user.backupfs.owner", mount.PathOf("host/web1")).Stdout);
        Assert.Empty(mount.Errors);
    }

    [FuseFact]
    public async Task NewSnapshotsAppearAndUnfinishedOnesStayHidden()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var (store, src, snap) = await BackupTreeAsync();
        using var mount = new DatastoreMount(store);
        Assert.Equal(new[] { snap.TimeName, "latest" }, Bounded.Io(() => Directory.GetFileSystemEntries(mount.PathOf("host/web1")).Select(Path.GetFileName).Order().ToArray()));

        var unfinished = await BackupStarter.BeginAsync(store, BackupGroup.Parse("host/web1"), new BackupOptions { BackupTime = 1_700_000_100 });
        await using (var w = await BackupStarter.BeginAsync(store, BackupGroup.Parse("host/db"), new BackupOptions { BackupTime = 1_700_000_200 }))
        {
            await DirectoryBackup.WriteAsync(w, "root.pxar.didx", Path.Combine(src, "a"));
            await w.FinishAsync();
        }
        Assert.True(Bounded.Eventually(() => Directory.Exists(mount.PathOf("host/db/latest/root.pxar/b")), TimeSpan.FromSeconds(10)));
        var web1 = Bounded.Io(() => Directory.GetFileSystemEntries(mount.PathOf("host/web1")).Select(Path.GetFileName).ToArray());
        Assert.DoesNotContain(unfinished.Snapshot.TimeName, web1);
        await unfinished.DisposeAsync();
    }

    [FuseTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ArchivesOfLargeAndOfManyTinyChunksReadBackExactly(bool ioUring)
    {
        // A 1 MiB read of the first image is one or two chunk slices sent as they are; of the
        // second it spans 256 chunks, more than a reply gathers, so those are copied. Over
        // io_uring every reply is copied into the ring entry's buffer.
        if (!FuseEnvironment.Usable(_output)) return;
        if (ioUring && !FuseTransports.KernelHasIoUring) { _output.WriteLine("skipped: this kernel has no FUSE over io_uring"); return; }
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var image = new byte[9 * 1024 * 1024 + 4097];
        new Random(11).NextBytes(image);
        SnapshotRef snap;
        await using (var w = await BackupStarter.BeginAsync(store, BackupGroup.Parse("vm/101"), new BackupOptions { BackupTime = 1_700_000_000 }))
        {
            snap = w.Snapshot;
            foreach (var (name, chunkSize) in new[] { ("large.img.fidx", 4 * 1024 * 1024), ("tiny.img.fidx", 4096) })
            {
                var f = w.CreateFixedArchive(name, chunkSize);
                f.Write(image);
                await w.CloseArchiveAsync(f);
            }
            await w.FinishAsync();
        }
        var expected = _tmp.Sub("expected.img");
        File.WriteAllBytes(expected, image);

        using var mount = new DatastoreMount(store, transport: (ioUring ? FuseIoUring.On : FuseIoUring.Off, true));
        foreach (var name in new[] { "large.img", "tiny.img" })
        {
            var path = mount.PathOf($"vm/101/{snap.TimeName}/{name}");
            Assert.Equal(0, Bounded.Run("cmp", expected, path).ExitCode);
            var copy = _tmp.Sub("copy-of-" + name);
            Assert.Equal(0, Bounded.Run("dd", $"if={path}", $"of={copy}", "bs=1M", "iflag=direct").ExitCode);
            Assert.Equal(0, Bounded.Run("cmp", expected, copy).ExitCode);
        }
        Assert.Empty(mount.Errors);
    }

    [FuseFact]
    public async Task CorruptChunkAndMalformedIndexGiveEioOnlyWhereTouched()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var (store, src, snap) = await BackupTreeAsync();
        // A second snapshot with an image whose middle chunk gets corrupted.
        var image = new byte[3 * 4 * 1024 * 1024];
        new Random(8).NextBytes(image);
        SnapshotRef imgSnap;
        await using (var w = await BackupStarter.BeginAsync(store, BackupGroup.Parse("vm/100"), new BackupOptions { BackupTime = 1_700_000_000 }))
        {
            imgSnap = w.Snapshot;
            var f = w.CreateFixedArchive("drive-scsi0.img.fidx");
            f.Write(image);
            await w.CloseArchiveAsync(f);
            await w.FinishAsync();
        }
        var index = Datastore.Formats.FixedIndex.Load(Path.Combine(store.FullPath(imgSnap.RelativePath), "drive-scsi0.img.fidx"));
        var chunkPath = ((LocalChunkStore)store.Chunks).ChunkPath(index.DigestAt(1));
        var raw = File.ReadAllBytes(chunkPath);
        raw[^1] ^= 0x40;
        File.WriteAllBytes(chunkPath, raw);
        // And a malformed index in the pxar snapshot.
        var didx = Path.Combine(store.FullPath(snap.RelativePath), "root.pxar.didx");
        var bytes = File.ReadAllBytes(didx);
        bytes[4096 + 3] ^= 0xff;
        File.WriteAllBytes(didx, bytes);

        using var mount = new DatastoreMount(store);
        var img = mount.PathOf($"vm/100/{imgSnap.TimeName}/drive-scsi0.img");
        var ok = Bounded.Run("dd", $"if={img}", "of=/dev/null", "bs=1M", "count=4", "iflag=direct");
        Assert.Equal(0, ok.ExitCode);
        var bad = Bounded.Run("dd", $"if={img}", "of=/dev/null", "bs=1M", "skip=5", "count=1", "iflag=direct");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("Input/output error", bad.Stderr);
        Assert.Equal(0, Bounded.Run("dd", $"if={img}", "of=/dev/null", "bs=1M", "skip=8", "count=4", "iflag=direct").ExitCode);

        var ls = Bounded.Run("ls", mount.PathOf($"host/web1/{snap.TimeName}/root.pxar"));
        Assert.NotEqual(0, ls.ExitCode);
        Assert.Contains("Input/output error", ls.Stderr);
        Assert.Equal(0, Bounded.Run("ls", mount.PathOf($"host/web1/{snap.TimeName}")).ExitCode); // the snapshot itself still lists
        Assert.NotEmpty(mount.Errors);
    }
}
