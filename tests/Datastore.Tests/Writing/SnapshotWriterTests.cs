using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.Writing;

public class SnapshotWriterTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] Pseudo(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public async Task DynamicFixedAndBlobRoundTrip()
    {
        var group = BackupGroup.Parse("host/web1");
        var stream = Pseudo(9 * 1024 * 1024 + 123, 1);
        var image = Pseudo(4 * 1024 * 1024 * 2 + 5, 2);
        SnapshotRef snap;
        await using (var writer = await BackupStarter.BeginAsync(_temp.Store, group, new BackupOptions { BackupTime = 1752502802 }))
        {
            snap = writer.Snapshot;
            var d = writer.CreateDynamicArchive("root.pxar.didx", 64 * 1024);
            d.Write(stream.AsSpan(0, 1000)); d.Write(stream.AsSpan(1000));
            await writer.CloseArchiveAsync(d);
            var f = writer.CreateFixedArchive("drive-scsi0.img.fidx");
            f.Write(image);
            await writer.CloseArchiveAsync(f);
            await writer.AddBlobAsync("qemu-server.conf.blob", "memory: 2048\n"u8.ToArray());
            Assert.False(_temp.Store.GetSnapshotInfo(snap).Finished);
            await writer.FinishAsync();
        }
        Assert.Equal("2025-07-14T14:20:02Z", snap.TimeName);
        Assert.Equal("root@pam", _temp.Store.GetOwner(group));
        Assert.True(_temp.Store.GetSnapshotInfo(snap).Finished);

        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, snap, chunks);
        Assert.Equal(new[] { "root.pxar.didx", "drive-scsi0.img.fidx", "qemu-server.conf.blob" }, reader.FileNames);
        Assert.Equal(stream, await ReadAll(reader.OpenArchive("root.pxar.didx")));
        Assert.Equal(image, await ReadAll(reader.OpenArchive("drive-scsi0.img.fidx")));
        Assert.Equal("memory: 2048\n"u8.ToArray(), reader.ReadBlob("qemu-server.conf.blob"));

        // Random reads across chunk boundaries of the image.
        var archive = reader.OpenArchive("drive-scsi0.img.fidx");
        var buf = new byte[10000];
        foreach (long off in new long[] { 0, 4 * 1024 * 1024 - 3, 8 * 1024 * 1024 - 9995, image.Length - 7 })
        {
            int n = await archive.ReadAtAsync(off, buf);
            Assert.Equal((int)Math.Min(buf.Length, image.Length - off), n);
            Assert.True(buf.AsSpan(0, n).SequenceEqual(image.AsSpan((int)off, n)));
        }
        Assert.Equal(0, await archive.ReadAtAsync(image.Length, buf));
    }

    [Fact]
    public async Task SecondBackupOfSameDataAddsNoChunks()
    {
        var group = BackupGroup.Parse("host/dedup");
        var data = Pseudo(6 * 1024 * 1024, 3);
        await using (var w = await BackupStarter.BeginAsync(_temp.Store, group, new BackupOptions { BackupTime = 1000 }))
        {
            var d = w.CreateDynamicArchive("data.pxar.didx", 64 * 1024); d.Write(data); await w.CloseArchiveAsync(d);
            await w.FinishAsync();
            Assert.True(w.Stats.InsertedChunks > 10);
        }
        await using (var w = await BackupStarter.BeginAsync(_temp.Store, group, new BackupOptions { BackupTime = 2000 }))
        {
            var d = w.CreateDynamicArchive("data.pxar.didx", 64 * 1024); d.Write(data); await w.CloseArchiveAsync(d);
            await w.FinishAsync();
            Assert.Equal(0, w.Stats.InsertedChunks);
            Assert.Equal(w.Stats.Chunks, w.Stats.DuplicateChunks);
        }
        Assert.Equal(2, _temp.Store.ListFinishedSnapshots(group).Count);
    }

    [Fact]
    public async Task AbortedBackupLeavesNoSnapshot()
    {
        var group = BackupGroup.Parse("vm/100");
        SnapshotRef snap;
        await using (var w = await BackupStarter.BeginAsync(_temp.Store, group))
        {
            snap = w.Snapshot;
            var d = w.CreateDynamicArchive("root.pxar.didx"); d.Write(Pseudo(1000, 4)); await w.CloseArchiveAsync(d);
            // no FinishAsync: as if the client gave up
        }
        Assert.False(_temp.Store.SnapshotExists(snap));
        Assert.Empty(_temp.Store.ListFinishedSnapshots(group));
    }

    [Fact]
    public async Task CrashedBackupIsNotListedAsFinished()
    {
        var group = BackupGroup.Parse("ct/101");
        var w = await BackupStarter.BeginAsync(_temp.Store, group, new BackupOptions { BackupTime = 5000 });
        var d = w.CreateDynamicArchive("root.pxar.didx"); d.Write(Pseudo(100, 5)); await w.CloseArchiveAsync(d);
        // a crash: the writer is never finished or disposed; the directory has no manifest
        var info = _temp.Store.ListSnapshots(group).Single();
        Assert.False(info.Finished);
        Assert.Empty(_temp.Store.ListFinishedSnapshots(group));
        Assert.Throws<BackupFsException>(() => SnapshotReader.Open(_temp.Store, info.Snapshot, new DecodingChunkSource(_temp.Store.Chunks)));
    }

    [Fact]
    public async Task TheLatestSnapshotIsTheNewestFinishedOneAndANewBackupMustBeNewerThanAnUnfinishedOne()
    {
        var group = BackupGroup.Parse("ct/102");
        foreach (long time in new long[] { 5000, 6000, 7000 })
            await using (var w = await BackupStarter.BeginAsync(_temp.Store, group, new BackupOptions { BackupTime = time })) await w.FinishAsync();
        // a crashed backup's directory: no manifest
        Directory.CreateDirectory(_temp.Store.FullPath(new SnapshotRef(group, 8000).RelativePath));
        Assert.Equal([5000L, 6000, 7000, 8000], _temp.Store.SnapshotDirectories(group).Select(s => s.BackupTime));
        Assert.Equal(7000, _temp.Store.LatestSnapshot(group)!.BackupTime);
        Assert.Null(_temp.Store.LatestSnapshot(BackupGroup.Parse("ct/none")));
        var e = await Assert.ThrowsAnyAsync<BackupFsException>(() => BackupStarter.BeginAsync(_temp.Store, group, new BackupOptions { BackupTime = 8000 }));
        Assert.Contains("not newer", e.Message);
    }

    [Fact]
    public async Task ConcurrentBackupOfOneGroupIsRefused()
    {
        var group = BackupGroup.Parse("host/busy");
        await using var first = await BackupStarter.BeginAsync(_temp.Store, group);
        var e = await Assert.ThrowsAnyAsync<BackupFsException>(() => BackupStarter.BeginAsync(_temp.Store, group));
        Assert.Contains("locked", e.Message);
    }

    [Fact]
    public async Task CorruptChunkFailsOnlyTheReadThatTouchesIt()
    {
        var group = BackupGroup.Parse("host/corrupt");
        var data = Pseudo(4 * 64 * 1024, 6);
        SnapshotRef snap;
        await using (var w = await BackupStarter.BeginAsync(_temp.Store, group))
        {
            snap = w.Snapshot;
            var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024); f.Write(data); await w.CloseArchiveAsync(f);
            await w.FinishAsync();
        }
        var reader = SnapshotReader.Open(_temp.Store, snap, new DecodingChunkSource(_temp.Store.Chunks));
        var archive = reader.OpenArchive("disk.img.fidx");
        var digest = archive.Index.DigestAt(2);
        var path = ((LocalChunkStore)_temp.Store.Chunks).ChunkPath(digest);
        var raw = File.ReadAllBytes(path);
        raw[^1] ^= 0xff;
        File.WriteAllBytes(path, raw);

        var buf = new byte[64 * 1024];
        Assert.Equal(buf.Length, await archive.ReadAtAsync(0, buf));
        var e = await Assert.ThrowsAsync<ChunkCorruptException>(async () => await archive.ReadAtAsync(2 * 64 * 1024 + 10, buf));
        Assert.Equal(digest, e.Digest);
        Assert.Equal(buf.Length, await archive.ReadAtAsync(3 * 64 * 1024, buf));
    }

    [Fact]
    public async Task TamperedIndexIsRejectedAgainstManifest()
    {
        var group = BackupGroup.Parse("host/tamper");
        SnapshotRef snap;
        await using (var w = await BackupStarter.BeginAsync(_temp.Store, group))
        {
            snap = w.Snapshot;
            var d = w.CreateDynamicArchive("root.pxar.didx"); d.Write(Pseudo(5000, 7)); await w.CloseArchiveAsync(d);
            await w.FinishAsync();
        }
        var path = Path.Combine(_temp.Store.FullPath(snap.RelativePath), "root.pxar.didx");
        var bytes = File.ReadAllBytes(path);
        bytes[4096 + 10] ^= 1; // a digest byte: the index checksum no longer matches
        File.WriteAllBytes(path, bytes);
        var reader = SnapshotReader.Open(_temp.Store, snap, new DecodingChunkSource(_temp.Store.Chunks));
        Assert.Throws<FormatCorruptException>(() => reader.OpenIndex("root.pxar.didx"));
    }

    [Fact]
    public async Task VectorStoreReadsImageExactly()
    {
        // tests/vectors/store: block i of the image is SHA-256("image:<i>"), cut to length.
        var store = DataStore.OpenLocal(Path.Combine(TestPaths.Vectors, "store"));
        var snap = SnapshotRef.Parse("vm/100/2025-11-24T18:00:00Z");
        var reader = SnapshotReader.Open(store, snap, new DecodingChunkSource(store.Chunks));
        var image = await ReadAll(reader.OpenArchive("drive-scsi0.img.fidx"));
        Assert.Equal(9 * 1024 * 1024 + 12345, image.Length);
        var expected = new byte[image.Length];
        for (int i = 0, off = 0; off < expected.Length; i++, off += 32)
        {
            var block = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes($"image:{i}"));
            block.AsSpan(0, Math.Min(32, expected.Length - off)).CopyTo(expected.AsSpan(off));
        }
        Assert.Equal(expected, image);
        Assert.NotEmpty(reader.ReadBlob("qemu-server.conf.blob"));
        Assert.Equal(new[] { "host/vectors" }, store.ListGroups(BackupNamespace.Root).Where(g => g.Type == BackupType.Host).Select(g => g.Display));
        Assert.Equal(new[] { "team" }, store.ListNamespaces(BackupNamespace.Root).Select(n => n.Display));
    }

    private static async Task<byte[]> ReadAll(IRandomAccessSource source)
    {
        var result = new byte[source.Length];
        int n = await source.ReadAtAsync(0, result);
        Assert.Equal(result.Length, n);
        return result;
    }
}
