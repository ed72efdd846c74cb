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
        Assert.True(prepared["big"].Run.Count >= 2);
        Assert.Equal(9_000_000 + PxarFormat.HeaderSize, prepared["big"].Run.Size);

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
            var run = Enumerable.Range(0, p.Run.Count).Select(p.Run.DigestAt).ToList();
            int at = digests.IndexOf(run[0]);
            Assert.True(at > 0);
            Assert.Equal(run, digests.Skip(at).Take(run.Count));
        }
    }

    [Fact]
    public async Task APreparedChunkTheStoreLostMakesTheBackupEncodeTheFile()
    {
        var tree = MakeTree();
        var prepared = new Dictionary<string, PreparedPayload> { ["big"] = await PrepareAsync(Path.Combine(tree, "big")) };
        File.Delete(((BackupFs.Datastore.Store.LocalChunkStore)_temp.Store.Chunks).ChunkPath(prepared["big"].Run.DigestAt(1))); // e.g. swept by a garbage collection since

        var (snap, stats) = await BackupAsync(tree, prepared, 1752502800);
        Assert.Equal(0, stats.PreparedFiles);
        Assert.Contains("big", _opened);
        await AssertDecodesTo(snap, tree);
        Assert.True(File.Exists(((BackupFs.Datastore.Store.LocalChunkStore)_temp.Store.Chunks).ChunkPath(prepared["big"].Run.DigestAt(1)))); // stored again by the backup
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
        Assert.Equal(1, empty.Run.Count);
        Assert.Equal(PxarFormat.HeaderSize, empty.Run.Size);
    }

    [Fact]
    public async Task ARunOfSmallFilesIsAppendedOnceAndAGapInItStillDecodes()
    {
        var tree = _temp.Dir.Sub("small");
        Directory.CreateDirectory(tree);
        var rnd = new Random(5);
        var names = Enumerable.Range(0, 60).Select(i => $"f{i:D3}").ToArray();
        foreach (var name in names)
        {
            var data = new byte[rnd.Next(1, 150_000)];
            rnd.NextBytes(data);
            File.WriteAllBytes(Path.Combine(tree, name), data);
        }
        var sizes = names.Select(n => new FileInfo(Path.Combine(tree, n)).Length).ToArray();
        var items = await PreparedPayload.PrepareRunAsync(sizes, (i, _) => ValueTask.FromResult<Stream>(File.OpenRead(Path.Combine(tree, names[i]))),
            new BackupOptions().CreateIngest(_temp.Store));
        Assert.True(items[0].Run.Count > 1);
        Assert.All(items, it => Assert.Same(items[0].Run, it.Run));

        var all = names.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => items[x.i]);
        var (snap, stats) = await BackupAsync(tree, all, 1752502800);
        Assert.Equal(60, stats.PreparedFiles);
        Assert.Empty(_opened);
        await AssertDecodesTo(snap, tree);
        Assert.Equal(items[0].Run.Count + 2, PayloadIndex(snap).Count); // the run, once, between the start and tail markers

        // f030 changed since (no prepared item): the run breaks there, goes on after it, and the archive is exact.
        var gap = all.Where(kv => kv.Key != "f030").ToDictionary();
        _opened.Clear();
        var (snap2, stats2) = await BackupAsync(tree, gap, 1752502900);
        Assert.Equal(59, stats2.PreparedFiles);
        Assert.Equal(new[] { "f030" }, _opened);
        await AssertDecodesTo(snap2, tree);
    }
}
