using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.Pxar;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.Writing;

/// <summary>Payload items cut and stored ahead of a split backup, then appended by digest.</summary>
public class PreparedPayloadTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly BackupGroup _group = BackupGroup.Parse("host/prepared");
    private readonly List<string> _opened = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A local tree whose files named in <paramref name="prepared"/> come with their prepared payload.</summary>
    private sealed class WithPrepared(ISnapshotTreeSource inner, Dictionary<string, PreparedPayload> prepared) : ISnapshotTreeSource
    {
        public SourceNode Root => inner.Root;
        public ValueTask<IReadOnlyList<SourceNode>> ListAsync(SourceNode directory, CancellationToken ct) => inner.ListAsync(directory, ct);
        public ValueTask<Stream> OpenAsync(SourceNode file, CancellationToken ct) => inner.OpenAsync(file, ct);
        public PreparedPayload? PreparedPayloadOf(SourceNode file) => prepared.GetValueOrDefault(System.Text.Encoding.UTF8.GetString(file.Name));
    }

    private string MakeTree()
    {
        var tree = _temp.Dir.Sub("tree");
        Directory.CreateDirectory(tree);
        var rnd = new Random(11);
        foreach (var (name, size) in new[] { ("a-small", 5_000), ("big", 9_000_000), ("c-small", 70_000), ("d-big", 5_000_000) })
        {
            var data = new byte[size];
            rnd.NextBytes(data);
            for (int i = 0; i < size; i += 3) data[i] = 0; // some of it compresses
            File.WriteAllBytes(Path.Combine(tree, name), data);
        }
        return tree;
    }

    private async Task<PreparedPayload> PrepareAsync(string path)
    {
        await using var file = File.OpenRead(path);
        return await PreparedPayload.PrepareAsync(file, file.Length, new BackupOptions().CreateIngest(_temp.Store));
    }

    private async Task<(SnapshotRef Snap, SplitBackupStats Stats)> BackupAsync(string tree, Dictionary<string, PreparedPayload> prepared, long time)
    {
        var source = new WithPrepared(new LocalTreeSource(tree, p =>
        {
            lock (_opened) _opened.Add(Path.GetFileName(System.Text.Encoding.UTF8.GetString(p)));
            return Posix.Open(p, OpenFlags.ReadOnly | OpenFlags.NoFollow, 0, FileAccess.Read);
        }), prepared);
        await using var writer = await BackupStarter.BeginAsync(_temp.Store, _group, new BackupOptions { BackupTime = time });
        var stats = await SplitArchiveBackup.WriteAsync(writer, "root", source, null);
        await writer.FinishAsync();
        return (writer.Snapshot, stats);
    }

    private async Task AssertDecodesTo(SnapshotRef snap, string tree)
    {
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, snap, chunks);
        var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, "root.pxar");
        PxarListing.AssertEqual(PxarListing.FromDirectory(tree), await PxarListing.FromArchiveAsync(accessor));
    }

    private DynamicIndex PayloadIndex(SnapshotRef snap) =>
        DynamicIndex.Load(Path.Combine(_temp.Store.FullPath(snap.RelativePath), "root.ppxar.didx"));

    [Fact]
    public async Task PreparedFilesAreAppendedByDigestWithoutBeingReadAgain()
    {
        var tree = MakeTree();
        var prepared = new Dictionary<string, PreparedPayload>
        {
            ["big"] = await PrepareAsync(Path.Combine(tree, "big")),
            ["d-big"] = await PrepareAsync(Path.Combine(tree, "d-big")),
        };
        Assert.True(prepared["big"].Chunks.Count >= 2);
        Assert.Equal(9_000_000 + PxarFormat.HeaderSize, prepared["big"].Chunks[^1].End);

        var (snap, stats) = await BackupAsync(tree, prepared, 1752502800);
        Assert.Equal(2, stats.PreparedFiles);
        Assert.Equal(14_000_000, stats.PreparedBytes);
        Assert.Equal(new[] { "a-small", "c-small" }, _opened.Order());
        await AssertDecodesTo(snap, tree);

        // The prepared chunks stand in the payload index in order, as one run per file.
        var index = PayloadIndex(snap);
        var digests = Enumerable.Range(0, index.Count).Select(index.DigestAt).ToList();
        foreach (var p in prepared.Values)
        {
            int at = digests.IndexOf(p.Chunks[0].Digest);
            Assert.True(at > 0);
            Assert.Equal(p.Chunks.Select(c => c.Digest), digests.Skip(at).Take(p.Chunks.Count));
        }
    }

    [Fact]
    public async Task APreparedChunkTheStoreLostMakesTheBackupEncodeTheFile()
    {
        var tree = MakeTree();
        var prepared = new Dictionary<string, PreparedPayload> { ["big"] = await PrepareAsync(Path.Combine(tree, "big")) };
        File.Delete(((BackupFs.Datastore.Store.LocalChunkStore)_temp.Store.Chunks).ChunkPath(prepared["big"].Chunks[1].Digest)); // e.g. swept by a garbage collection since

        var (snap, stats) = await BackupAsync(tree, prepared, 1752502800);
        Assert.Equal(0, stats.PreparedFiles);
        Assert.Contains("big", _opened);
        await AssertDecodesTo(snap, tree);
        Assert.True(File.Exists(((BackupFs.Datastore.Store.LocalChunkStore)_temp.Store.Chunks).ChunkPath(prepared["big"].Chunks[1].Digest))); // stored again by the backup
    }

    [Fact]
    public async Task APreparedPayloadOfAnotherSizeIsNotUsed()
    {
        var tree = MakeTree();
        var prepared = new Dictionary<string, PreparedPayload> { ["big"] = await PrepareAsync(Path.Combine(tree, "d-big")) };
        var (snap, stats) = await BackupAsync(tree, prepared, 1752502800);
        Assert.Equal(0, stats.PreparedFiles);
        await AssertDecodesTo(snap, tree);
    }

    [Fact]
    public async Task ContentThatIsNotItsStatedSizeIsRefused()
    {
        var ingest = new BackupOptions().CreateIngest(_temp.Store);
        await Assert.ThrowsAsync<InvalidDataException>(() => PreparedPayload.PrepareAsync(new MemoryStream(new byte[100]), 101, ingest));
        await Assert.ThrowsAsync<InvalidDataException>(() => PreparedPayload.PrepareAsync(new MemoryStream(new byte[100]), 99, ingest));
        var empty = await PreparedPayload.PrepareAsync(new MemoryStream([]), 0, ingest);
        Assert.Equal(PxarFormat.HeaderSize, Assert.Single(empty.Chunks).End);
    }
}
