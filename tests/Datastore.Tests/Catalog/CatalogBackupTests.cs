using BackupFs.Datastore.Catalog;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.Pxar;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.Catalog;

/// <summary>The v1 directory backup writes catalog.pcat1.didx beside root.pxar.didx, listing what the archive holds.</summary>
public class CatalogBackupTests : IDisposable
{
    private readonly TempStore _temp = new();

    public void Dispose() => _temp.Dispose();

    private async Task<SnapshotRef> BackupAsync(string tree, string archive = "root.pxar.didx")
    {
        await using var writer = await BackupStarter.BeginAsync(_temp.Store, BackupGroup.Parse("host/cat"), new BackupOptions());
        await DirectoryBackup.WriteAsync(writer, archive, tree);
        await writer.FinishAsync();
        return writer.Snapshot;
    }

    [Fact]
    public async Task CatalogListsExactlyTheArchivesEntries()
    {
        var tree = PxarEncoderTests.MakeVectorTree(_temp.Dir);
        var snap = await BackupAsync(tree);
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, snap, chunks);
        // As the client: the archive first, the catalog last, both ordinary dynamic indexes.
        Assert.Equal(new[] { "root.pxar.didx", DirectoryBackup.CatalogFileName }, reader.FileNames);
        var info = reader.Manifest.Find(DirectoryBackup.CatalogFileName)!;
        var index = reader.OpenIndex(DirectoryBackup.CatalogFileName);
        Assert.Equal((ulong)index.Size, info.Size);
        Assert.Equal(CryptMode.None, info.CryptMode);

        var catalog = await CatalogReader.OpenAsync(reader.OpenArchive(DirectoryBackup.CatalogFileName));
        var top = Assert.Single(await catalog.ReadDirectoryAsync(catalog.Root));
        Assert.Equal("root.pxar.didx", top.NameText);
        var fromCatalog = await CatalogListingAsync(catalog, top);

        var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, "root.pxar");
        var fromArchive = await ArchiveListingAsync(accessor);
        Assert.Equal(string.Join("\n", fromArchive), string.Join("\n", fromCatalog));
        // The shapes the vectors tree has: hardlink, fifo, symlinks, a pre-1970 mtime, odd names.
        Assert.Contains("a/hardlink-to-small f 14 " + (await accessor.LookupPathAsync("a/small.txt"))!.Stat.MtimeSeconds, fromCatalog);
        Assert.Contains("a/small.txt h", fromCatalog); // the second name of the inode, in byte order
        Assert.Contains("odd/fifo p", fromCatalog);
        Assert.Contains("odd/dangling l", fromCatalog);
        Assert.Contains("a/empty f 0 -157680000", fromCatalog);
        Assert.Contains("odd/new\nline f 3 " + (await accessor.LookupPathAsync("odd/new\nline"))!.Stat.MtimeSeconds, fromCatalog);
    }

    [Fact]
    public async Task ListingADirectoryByPathReadsOnlyItsTables()
    {
        var tree = PxarEncoderTests.MakeVectorTree(_temp.Dir);
        var snap = await BackupAsync(tree);
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, snap, chunks);
        var catalog = await CatalogReader.OpenAsync(reader.OpenArchive(DirectoryBackup.CatalogFileName));
        var names = (await catalog.ListDirectoryAsync("/root.pxar.didx/a/b")).Select(e => e.NameText + ":" + (char)e.Kind);
        Assert.Equal(new[] { "c:d", "large.bin:f", "text.txt:f" }, names);
        var large = await catalog.LookupPathAsync("root.pxar.didx/a/b/large.bin");
        Assert.Equal(1572864UL + 17, large!.Size);
        await Assert.ThrowsAsync<BackupFsException>(() => catalog.ListDirectoryAsync("root.pxar.didx/a/small.txt").AsTask());
        await Assert.ThrowsAsync<BackupFsException>(() => catalog.ListDirectoryAsync("root.pxar.didx/missing").AsTask());
    }

    [Fact]
    public async Task LargeCatalogIsCutByTheChunkerAt512KiBAverage()
    {
        var tree = _temp.Dir.Sub("many");
        Directory.CreateDirectory(tree);
        var random = new Random(5);
        var noise = new byte[100]; // random names: the rolling hash finds no cut in repetitive bytes
        for (int i = 0; i < 6000; i++)
        {
            random.NextBytes(noise);
            File.WriteAllBytes(Path.Combine(tree, $"{i:D6}-{Convert.ToHexStringLower(noise)}"), []);
        }
        var snap = await BackupAsync(tree, "other.pxar.didx");
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, snap, chunks);
        var index = (DynamicIndex)reader.OpenIndex(DirectoryBackup.CatalogFileName);
        var archive = reader.OpenArchive(DirectoryBackup.CatalogFileName);
        var bytes = new byte[archive.Length];
        Assert.Equal(bytes.Length, await archive.ReadAtAsync(0, bytes));
        var expectedEnds = new List<long>();
        var chunker = new Chunker(512 * 1024);
        for (long pos = 0; pos < bytes.Length;)
        {
            int cut = chunker.Scan(bytes.AsSpan((int)pos));
            pos = cut > 0 ? pos + cut : bytes.Length;
            expectedEnds.Add(pos);
        }
        Assert.True(expectedEnds.Count > 1, $"catalog of {bytes.Length} bytes should span chunks");
        Assert.Equal(expectedEnds, Enumerable.Range(0, index.Count).Select(index.ChunkEnd));
        var catalog = await CatalogReader.OpenAsync(archive);
        Assert.Equal(6000, (await catalog.ListDirectoryAsync("other.pxar.didx")).Count);
    }

    [Fact]
    public async Task TheCatalogNameIsNotAnArchiveName()
    {
        await using var writer = await BackupStarter.BeginAsync(_temp.Store, BackupGroup.Parse("host/cat"), new BackupOptions());
        await Assert.ThrowsAsync<InvalidNameException>(() => DirectoryBackup.WriteAsync(writer, DirectoryBackup.CatalogFileName, _temp.Dir.Path));
    }

    /// <summary>"path kind [size mtime]" per entry below <paramref name="top"/>, sorted by path; children of a table must be byte-sorted.</summary>
    private static async Task<List<string>> CatalogListingAsync(CatalogReader catalog, CatalogEntry top)
    {
        var lines = new List<string>();
        var stack = new Stack<(CatalogEntry Dir, string Path)>([(top, "")]);
        while (stack.Count > 0)
        {
            var (dir, path) = stack.Pop();
            byte[]? previous = null;
            foreach (var e in await catalog.ReadDirectoryAsync(dir))
            {
                Assert.True(previous is null || previous.AsSpan().SequenceCompareTo(e.Name) < 0, "catalog entries are not in archive order");
                previous = e.Name;
                var p = path + e.NameText;
                lines.Add(e.Kind == CatalogEntryKind.File ? $"{p} f {e.Size} {e.MtimeSeconds}" : $"{p} {(char)e.Kind}");
                if (e.IsDirectory) stack.Push((e, p + "/"));
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    private static async Task<List<string>> ArchiveListingAsync(PxarAccessor accessor)
    {
        var lines = new List<string>();
        var stack = new Stack<(PxarEntry Dir, string Path)>([(accessor.Root, "")]);
        while (stack.Count > 0)
        {
            var (dir, path) = stack.Pop();
            foreach (var e in await accessor.ListDirectoryAsync(dir))
            {
                var p = path + e.NameString;
                char kind = e.Kind switch
                {
                    PxarEntryKind.Directory => 'd', PxarEntryKind.File => 'f', PxarEntryKind.Symlink => 'l', PxarEntryKind.Hardlink => 'h',
                    PxarEntryKind.BlockDevice => 'b', PxarEntryKind.CharDevice => 'c', PxarEntryKind.Fifo => 'p', PxarEntryKind.Socket => 's', _ => '?',
                };
                lines.Add(kind == 'f' ? $"{p} f {e.Size} {e.Stat.MtimeSeconds}" : $"{p} {kind}");
                if (e.IsDirectory) stack.Push((e, p + "/"));
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return lines;
    }
}
