using System.Text;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using Xunit.Abstractions;

namespace BackupFs.Datastore.Tests.Pxar;

/// <summary>
/// Tree depth never grows the stack: 100,000 nested directories are encoded, listed, looked up,
/// extracted, re-archived from disk and committed as split snapshots (with reuse), all on a thread
/// with a 512 KiB stack, where any walk recursing per level would overflow.
/// </summary>
public class PxarDepthTests(ITestOutputHelper output) : IDisposable
{
    private const int Depth = 100_000;
    private static readonly PxarStat Dir = new(0x41ED, 0, 0, 0, 1_700_000_000, 0);
    private static readonly PxarStat File = new(0x81A4, 0, 0, 0, 1_700_000_001, 0);
    private static readonly byte[] D = "d"u8.ToArray();
    private readonly TempDir _tmp = new("backupfs-deep-");

    public void Dispose()
    {
        DeepTrees.Remove(_tmp.Path);
        _tmp.Dispose();
    }

    private static async Task<byte[]> EncodeChainAsync(int depth)
    {
        var meta = new MemoryStream();
        using var e = await PxarEncoder.CreateAsync(meta, Dir);
        for (int i = 0; i < depth; i++) await e.BeginDirectoryAsync(D, Dir);
        await e.AddFileAsync("f"u8.ToArray(), File, null, new MemoryStream("deep"u8.ToArray()), 4);
        for (int i = 0; i < depth; i++) await e.EndDirectoryAsync();
        await e.FinishAsync();
        return meta.ToArray();
    }

    /// <summary>Looks the chain up level by level and reads the file at the bottom.</summary>
    private static async Task<string> ReadBottomAsync(PxarAccessor a, int depth)
    {
        var at = a.Root;
        for (int i = 0; i < depth; i++)
        {
            var list = await a.ListDirectoryAsync(at, 0, 2);
            Assert.Single(list);
            at = list[0];
            Assert.Equal(PxarEntryKind.Directory, at.Kind);
        }
        var file = await a.LookupAsync(at, "f") ?? throw new Xunit.Sdk.XunitException("no file at the bottom");
        var buffer = new byte[16];
        int n = await a.ReadFileAsync(file, 0, buffer);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Fact]
    public void HundredThousandLevelsEncodeListExtractAndArchiveAgainOnASmallStack()
    {
        var target = _tmp.Sub("restored");
        var (_, again) = DeepTrees.OnSmallStack(async () =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var bytes = await EncodeChainAsync(Depth);
            var a = await PxarAccessor.OpenAsync(new MemorySource(bytes));
            output.WriteLine($"encoded {bytes.Length} bytes in {clock.ElapsedMilliseconds} ms");
            Assert.Equal("deep", await ReadBottomAsync(a, Depth));
            output.WriteLine($"walked down at {clock.ElapsedMilliseconds} ms");

            await new PxarExtractor(a, new PxarExtractOptions { RestoreOwner = false, RestoreDevices = false }).ExtractAsync(target);
            output.WriteLine($"extracted at {clock.ElapsedMilliseconds} ms");

            // The restored tree (far deeper than PATH_MAX) archived again from disk.
            var archive = new MemoryStream();
            await PxarTreeEncoder.EncodeAsync(target, archive);
            var b = await PxarAccessor.OpenAsync(new MemorySource(archive.ToArray()));
            output.WriteLine($"archived again at {clock.ElapsedMilliseconds} ms");
            return ("deep", await ReadBottomAsync(b, Depth));
        });
        Assert.Equal("deep", again);
        using var deepest = DeepTrees.OpenChain(target, Depth, "d");
        using var f = deepest.OpenFile("f"u8, OpenFlags.ReadOnly, 0, FileAccess.Read);
        Assert.Equal("deep", new StreamReader(f).ReadToEnd());
        Assert.Equal(1_700_000_001, deepest.Stat("f"u8).MtimeSeconds);
    }

    /// <summary>A tree source of one directory chain, as a staging session would describe it.</summary>
    private sealed class ChainSource(int depth, string content) : ISnapshotTreeSource
    {
        public SourceNode Root { get; } = new() { Name = [], Stat = Dir, Handle = 0 };

        public ValueTask<IReadOnlyList<SourceNode>> ListAsync(SourceNode directory, CancellationToken ct)
        {
            int level = (int)directory.Handle!;
            SourceNode child = level < depth
                ? new SourceNode { Name = D, Stat = Dir, Handle = level + 1 }
                : new SourceNode { Name = "f"u8.ToArray(), Stat = File, Size = content.Length, Handle = -1 };
            return ValueTask.FromResult<IReadOnlyList<SourceNode>>([child]);
        }

        public ValueTask<Stream> OpenAsync(SourceNode file, CancellationToken ct) =>
            ValueTask.FromResult<Stream>(new MemoryStream(Encoding.ASCII.GetBytes(content)));
    }

    [Fact]
    public void HundredThousandLevelsCommitAsSplitSnapshotsWithReuseOnASmallStack()
    {
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var group = BackupGroup.Parse("host/deep");
        using var chunks = new CachedChunkSource(new DecodingChunkSource(store.Chunks));
        var (first, second, bottom) = DeepTrees.OnSmallStack(async () =>
        {
            var one = await SplitSnapshotCommit.CommitAsync(store, group, new ChainSource(Depth, "deep"), chunks, new BackupOptions { BackupTime = 1752502800 });
            // Same tree again: every level is looked up in the previous snapshot, the file is reused.
            var two = await SplitSnapshotCommit.CommitAsync(store, group, new ChainSource(Depth, "deep"), chunks, new BackupOptions { BackupTime = 1752502900 });
            var reader = SnapshotReader.Open(store, two.Snapshot, chunks);
            var a = await PxarArchiveOpener.OpenAsync(reader, chunks, "root.pxar");
            return (one, two, await ReadBottomAsync(a, Depth));
        });
        Assert.Equal(1, first.Split.EncodedFiles);
        Assert.Equal(0, second.Split.EncodedFiles);
        Assert.Equal(1, second.Split.ReusedFiles);
        Assert.Equal("deep", bottom);
    }
}
