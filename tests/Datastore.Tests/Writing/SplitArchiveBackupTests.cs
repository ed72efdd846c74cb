using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.Pxar;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.Writing;

public class SplitArchiveBackupTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly BackupGroup _group = BackupGroup.Parse("host/split");
    private int _reads;

    public void Dispose() => _temp.Dispose();

    private Stream CountingOpen(byte[] path)
    {
        Interlocked.Increment(ref _reads);
        return Posix.Open(path, OpenFlags.ReadOnly | OpenFlags.NoFollow, 0, FileAccess.Read);
    }

    private async Task<(SnapshotRef Snap, SplitBackupStats Split, long Inserted)> BackupAsync(string tree, long time, SnapshotRef? previous)
    {
        CachedChunkSource? chunks = null;
        PreviousSplitArchive? prev = null;
        if (previous is { } p)
        {
            chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
            var reader = SnapshotReader.Open(_temp.Store, p, chunks);
            var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, "root.pxar");
            prev = new PreviousSplitArchive(accessor, (DynamicIndex)reader.OpenIndex("root.ppxar.didx"));
        }
        _reads = 0;
        await using var writer = await BackupStarter.BeginAsync(_temp.Store, _group, new BackupOptions { BackupTime = time });
        var stats = await SplitArchiveBackup.WriteAsync(writer, "root", tree, prev, CountingOpen);
        await writer.FinishAsync();
        chunks?.Dispose();
        return (writer.Snapshot, stats, writer.Stats.InsertedChunks);
    }

    private async Task AssertDecodesTo(SnapshotRef snap, string tree)
    {
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, snap, chunks);
        Assert.Equal(new[] { "root.mpxar.didx", "root.ppxar.didx" }, reader.FileNames);
        var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, "root.pxar");
        Assert.Equal(2, accessor.FormatVersion);
        PxarListing.AssertEqual(PxarListing.FromDirectory(tree), await PxarListing.FromArchiveAsync(accessor));
    }

    private (DynamicIndex Payload, DynamicIndex Meta) Indexes(SnapshotRef snap)
    {
        var dir = _temp.Store.FullPath(snap.RelativePath);
        return (DynamicIndex.Load(Path.Combine(dir, "root.ppxar.didx")), DynamicIndex.Load(Path.Combine(dir, "root.mpxar.didx")));
    }

    private static void AddManyFiles(string tree, int count)
    {
        var dir = Path.Combine(tree, "many");
        Directory.CreateDirectory(dir);
        var rnd = new Random(7);
        for (int i = 0; i < count; i++)
        {
            var data = new byte[rnd.Next(1, 300_000)];
            rnd.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, $"f{i:D4}"), data);
        }
    }

    [Fact]
    public async Task UnchangedRerunReusesEveryPayloadChunkWithoutReadingFiles()
    {
        var tree = PxarEncoderTests.MakeVectorTree(_temp.Dir);
        AddManyFiles(tree, 40);
        var first = await BackupAsync(tree, 1752502800, null);
        Assert.True(first.Inserted > 0);
        Assert.Equal(0, first.Split.ReusedFiles);
        await AssertDecodesTo(first.Snap, tree);

        var second = await BackupAsync(tree, 1752502900, first.Snap);
        Assert.Equal(0, _reads);
        Assert.Equal(0, second.Split.EncodedFiles);
        Assert.True(second.Split.ReusedFiles > 40);
        // Every payload chunk is one of the previous snapshot's, except the marker-only chunks (start, tail: 16 bytes each).
        var (oldPayload, _) = Indexes(first.Snap);
        var (newPayload, newMeta) = Indexes(second.Snap);
        var known = Enumerable.Range(0, oldPayload.Count).Select(oldPayload.DigestAt).ToHashSet();
        Assert.All(Enumerable.Range(0, newPayload.Count).Where(i => newPayload.ChunkEnd(i) - newPayload.ChunkStart(i) > 16),
            i => Assert.Contains(newPayload.DigestAt(i), known));
        Assert.True(second.Inserted <= newMeta.Count + 2, $"{second.Inserted} chunks inserted on an unchanged re-run");
        await AssertDecodesTo(second.Snap, tree);
    }

    [Fact]
    public async Task ChangedFilesAreTheOnlyOnesReadAndDecodeCorrectly()
    {
        var tree = PxarEncoderTests.MakeVectorTree(_temp.Dir);
        AddManyFiles(tree, 100);
        var first = await BackupAsync(tree, 1752502800, null);
        var changed = Path.Combine(tree, "many", "f0050");
        var data = File.ReadAllBytes(changed);
        data[10] ^= 0xff;
        File.WriteAllBytes(changed, data);
        File.SetLastWriteTimeUtc(changed, new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        var second = await BackupAsync(tree, 1752502900, first.Snap);
        Assert.Equal(1, _reads);
        Assert.Equal(1, second.Split.EncodedFiles);
        // New payload bytes: the changed file's PAYLOAD item plus the start and tail markers.
        var (oldPayload, _) = Indexes(first.Snap);
        var (newPayload, newMeta) = Indexes(second.Snap);
        var known = Enumerable.Range(0, oldPayload.Count).Select(oldPayload.DigestAt).ToHashSet();
        long newBytes = Enumerable.Range(0, newPayload.Count).Where(i => !known.Contains(newPayload.DigestAt(i)))
            .Sum(i => newPayload.ChunkEnd(i) - newPayload.ChunkStart(i));
        Assert.True(newBytes <= data.Length + 3 * 16, $"{newBytes} new payload bytes for a {data.Length}-byte change");
        Assert.True(second.Inserted <= newMeta.Count + 3, $"{second.Inserted} chunks inserted");
        await AssertDecodesTo(second.Snap, tree);

        // A third run reuses from a snapshot that itself was partly reused.
        var third = await BackupAsync(tree, 1752503000, second.Snap);
        Assert.Equal(0, _reads);
        await AssertDecodesTo(third.Snap, tree);

        // What restore does (the extractor over the split pair) gives back the source tree.
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, third.Snap, chunks);
        var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, "root.mpxar.didx");
        var restored = _temp.Dir.Sub("restored");
        await new PxarExtractor(accessor, new PxarExtractOptions()).ExtractAsync(restored, "", default);
        PxarListing.AssertEqual(PxarListing.FromDirectory(tree), PxarListing.FromDirectory(restored));
    }
}

public class SplitSnapshotCommitTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly BackupGroup _group = BackupGroup.Parse("host/commit");

    public void Dispose() => _temp.Dispose();

    private sealed class FailingBackend(IChunkBackend inner) : IChunkBackend
    {
        public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) => inner.ReadBlobAsync(digest, ct);
        public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default) => inner.ContainsAsync(digest, ct);
        public ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default) =>
            throw new IOException("backend down");
    }

    [Fact]
    public async Task CommitReusesTheLatestAndAFailedCommitLeavesItLatest()
    {
        var tree = PxarEncoderTests.MakeVectorTree(_temp.Dir);
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var first = await SplitSnapshotCommit.CommitAsync(_temp.Store, _group, new LocalTreeSource(tree), chunks, new BackupOptions { BackupTime = 1752502800 });
        Assert.Equal(first.Snapshot, _temp.Store.LatestSnapshot(_group));

        var second = await SplitSnapshotCommit.CommitAsync(_temp.Store, _group, new LocalTreeSource(tree), chunks, new BackupOptions { BackupTime = 1752502900 });
        Assert.Equal(0, second.Split.EncodedFiles);
        Assert.Equal(second.Snapshot, _temp.Store.LatestSnapshot(_group));

        File.WriteAllText(Path.Combine(tree, "new-file"), "changed after the second commit\n");
        await Assert.ThrowsAnyAsync<Exception>(() => SplitSnapshotCommit.CommitAsync(_temp.Store, _group, new LocalTreeSource(tree), chunks,
            new BackupOptions { BackupTime = 1752503000, ChunkBackend = new FailingBackend(_temp.Store.Chunks) }));
        Assert.Equal(second.Snapshot, _temp.Store.LatestSnapshot(_group));
        Assert.Equal(2, _temp.Store.ListSnapshots(_group).Count);
    }
}
