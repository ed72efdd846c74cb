using System.Text;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

public class PxarEncoderTests
{
    private static string Vec(string name) => Path.Combine(TestPaths.Vectors, "pxar", name);

    /// <summary>The tree the pxar vectors were made from (see <see cref="VectorTree"/>), in tmp/tree.</summary>
    internal static string MakeVectorTree(TempDir tmp)
    {
        var dir = tmp.Sub("tree");
        VectorTree.CreateA(dir);
        return dir;
    }

    [Fact]
    public async Task TreeEncodedAsUnifiedArchiveDecodesToTheListingAndMatchesTheReferenceBytes()
    {
        using var tmp = new TempDir(onDisk: true);
        var tree = MakeVectorTree(tmp);
        var output = new MemoryStream();
        await PxarTreeEncoder.EncodeAsync(tree, output);
        var bytes = output.ToArray();
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(bytes));
        PxarListing.AssertEqual(PxarListing.FromJson(Vec("A.listing.json")), await PxarListing.FromArchiveAsync(accessor));
        // Same tree, same encoder rules: the reference implementation's bytes exactly.
        var reference = await File.ReadAllBytesAsync(Vec("A.pxar"));
        Assert.Equal(reference.Length, bytes.Length);
        Assert.True(reference.AsSpan().SequenceEqual(bytes), $"first difference at {reference.AsSpan().CommonPrefixLength(bytes)}");
    }

    [Fact]
    public async Task BigTreeWithManyEntriesAndDeepNestingRoundTrips()
    {
        using var tmp = new TempDir(onDisk: true);
        var tree = tmp.Sub("big");
        VectorTree.CreateBig(tree, "bigseed");
        var meta = new MemoryStream();
        var payload = new MemoryStream();
        await PxarTreeEncoder.EncodeAsync(tree, meta, new PxarEncoderOptions { PayloadOutput = payload, Prelude = "{}"u8.ToArray() });
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(meta.ToArray()), new MemorySource(payload.ToArray()));
        Assert.Equal("{}"u8.ToArray(), await accessor.ReadPreludeAsync());
        PxarListing.AssertEqual(PxarListing.FromDirectory(tree), await PxarListing.FromArchiveAsync(accessor));
        var many = await accessor.LookupPathAsync("many");
        Assert.Equal(1500, (await accessor.ListDirectoryAsync(many!)).Count);
        Assert.Equal(1500, await accessor.CountChildrenAsync(many!));
        var page = await accessor.ListDirectoryAsync(many!, 1490, 100);
        Assert.Equal(10, page.Count);
        Assert.Equal((await accessor.ListDirectoryAsync(many!))[1495].Identity, page[5].Identity);
        Assert.Empty(await accessor.ListDirectoryAsync(many!, 5000, 10));
        foreach (var child in await accessor.ListDirectoryAsync(many!))
            Assert.Equal(child.Identity, (await accessor.LookupAsync(many!, child.Name))!.Identity);
        Assert.NotNull(await accessor.LookupPathAsync(string.Join('/', Enumerable.Range(0, 24).Select(i => $"level{i}")) + "/bottom"));
    }

    [Fact]
    public async Task PayloadReferencesReuseAnEarlierPayloadStream()
    {
        // First archive writes payloads; the second refers to the same payload stream bytes without copying.
        var meta1 = new MemoryStream();
        var payload = new MemoryStream();
        var dir = new PxarStat(0x41ED, 0, 0, 0, 0, 0);
        var file = new PxarStat(0x81A4, 0, 1000, 1000, 0, 0);
        var starts = new List<long>();
        using (var e = await PxarEncoder.CreateAsync(meta1, dir, null, new PxarEncoderOptions { PayloadOutput = payload, BeforeFilePayload = starts.Add }))
        {
            await e.AddFileAsync("a"u8.ToArray(), file, null, new MemoryStream("first"u8.ToArray()), 5);
            await e.AddFileAsync("b"u8.ToArray(), file, null, new MemoryStream("second!"u8.ToArray()), 7);
            await e.FinishAsync();
        }
        Assert.Equal([16L, 16 + 16 + 5], starts);
        var payloadBytes = payload.ToArray();

        var meta2 = new MemoryStream();
        var payload2 = new MemoryStream();
        using (var e = await PxarEncoder.CreateAsync(meta2, dir, null, new PxarEncoderOptions { PayloadOutput = payload2 }))
        {
            // References point at or after the current payload position (PBS adds them before injecting the chunks).
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await e.AddPayloadReferenceAsync("x"u8.ToArray(), file, null, 15, 5));
            await e.AddPayloadReferenceAsync("x"u8.ToArray(), file, null, 16, 5);
            await e.AddPayloadReferenceAsync("y"u8.ToArray(), file, null, 37, 7);
            // The staging code would inject the old chunks into the new payload index; here: copy them by hand.
            await e.FlushPayloadAsync();
            payload2.Write(payloadBytes.AsSpan(16, payloadBytes.Length - 32));
            e.AdvancePayloadPosition(payloadBytes.Length - 32);
            Assert.Equal(payloadBytes.Length - 16, e.PayloadPosition);
            await e.FinishAsync();
        }
        var a = await PxarAccessor.OpenAsync(new MemorySource(meta2.ToArray()), new MemorySource(payload2.ToArray()));
        var y = await a.LookupPathAsync("y");
        var buf = new byte[7];
        Assert.Equal(7, await a.ReadFileAsync(y!, 0, buf));
        Assert.Equal("second!"u8.ToArray(), buf);
        Assert.Equal(payloadBytes, payload2.ToArray());
    }

    [Fact]
    public async Task TreeEncodedAsSplitArchiveMatchesTheReferencePair()
    {
        using var tmp = new TempDir(onDisk: true);
        var tree = MakeVectorTree(tmp);
        var meta = new MemoryStream();
        var payload = new MemoryStream();
        var fileStarts = new List<long>();
        await PxarTreeEncoder.EncodeAsync(tree, meta, new PxarEncoderOptions { PayloadOutput = payload, BeforeFilePayload = fileStarts.Add });
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(meta.ToArray()), new MemorySource(payload.ToArray()));
        PxarListing.AssertEqual(PxarListing.FromJson(Vec("A.listing.json")), await PxarListing.FromArchiveAsync(accessor));
        Assert.Equal(16, fileStarts[0]);
        Assert.Equal(fileStarts.Count, fileStarts.Distinct().Count());
        var refMeta = await File.ReadAllBytesAsync(Vec("A.mpxar"));
        var refPayload = await File.ReadAllBytesAsync(Vec("A.ppxar"));
        Assert.True(refMeta.AsSpan().SequenceEqual(meta.ToArray()), $"mpxar: first difference at {refMeta.AsSpan().CommonPrefixLength(meta.ToArray())}");
        Assert.True(refPayload.AsSpan().SequenceEqual(payload.ToArray()), "ppxar differs");
    }
}

public class PxarReencodeTests
{
    private static string Fixture(string name) => Path.Combine(TestPaths.Vectors, "pbs-fixtures", name);

    /// <summary>Re-encodes an archive's metadata through the encoder: streamed files (zero content) or payload references.</summary>
    private static async Task<byte[]> ReencodeAsync(PxarAccessor a, bool asReferences, byte[]? prelude)
    {
        var meta = new MemoryStream();
        var options = new PxarEncoderOptions { PayloadOutput = Stream.Null, Prelude = prelude };
        using var e = await PxarEncoder.CreateAsync(meta, a.Root.Stat, await a.ReadMetadataAsync(a.Root), options);
        async Task Children(PxarEntry dir)
        {
            foreach (var c in await a.ListDirectoryAsync(dir))
            {
                var m = await a.ReadMetadataAsync(c);
                switch (c.Kind)
                {
                    case PxarEntryKind.Directory:
                        await e.BeginDirectoryAsync(c.Name, c.Stat, m);
                        await Children(c);
                        await e.EndDirectoryAsync();
                        break;
                    case PxarEntryKind.File when asReferences:
                        await e.AddPayloadReferenceAsync(c.Name, c.Stat, m, c.ContentOffset, c.Size);
                        e.AdvancePayloadPosition(c.ContentOffset + 16 + c.Size - e.PayloadPosition);
                        break;
                    case PxarEntryKind.File:
                        await e.AddFileAsync(c.Name, c.Stat, m, new ZeroStream(), c.Size);
                        break;
                    default: throw new InvalidOperationException("fixture has only dirs and files");
                }
            }
        }
        await Children(a.Root);
        await e.FinishAsync();
        return meta.ToArray();
    }

    [Fact]
    public async Task StreamedFilesReproducePbsGoodbyeSizesByteExact()
    {
        var original = await File.ReadAllBytesAsync(Fixture("backup-client-pxar-data.mpxar"));
        var a = await PxarAccessor.OpenAsync(new MemorySource(original));
        var again = await ReencodeAsync(a, asReferences: false, prelude: null);
        Assert.True(original.AsSpan().SequenceEqual(again), $"differs at {original.AsSpan().CommonPrefixLength(again)}");
    }

    [Fact]
    public async Task PayloadReferencesReproducePbsGoodbyeSizesByteExact()
    {
        var original = await File.ReadAllBytesAsync(Fixture("backup-client-pxar-expected.mpxar"));
        var a = await PxarAccessor.OpenAsync(new MemorySource(original));
        var again = await ReencodeAsync(a, asReferences: true, prelude: await a.ReadPreludeAsync());
        Assert.True(original.AsSpan().SequenceEqual(again), $"differs at {original.AsSpan().CommonPrefixLength(again)}");
    }

    private sealed class ZeroStream : Stream
    {
        public override bool CanRead => true; public override bool CanSeek => false; public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) { Array.Clear(buffer, offset, count); return count; }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
