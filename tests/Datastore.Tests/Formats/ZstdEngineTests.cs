using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Formats.Zstd;
using static BackupFs.Datastore.Tests.Formats.ChunkerStreams;

namespace BackupFs.Datastore.Tests.Formats;

/// <summary>Both zstd engines: each decodes what the other writes, and both refuse the same bad frames the same way.</summary>
public class ZstdEngineTests
{
    private static readonly byte[] Text = System.Text.Encoding.ASCII.GetBytes(
        string.Concat(Enumerable.Range(0, 40_000).Select(i => $"line {i % 97} of a log, chunk {i % 13}\n")));

    public static TheoryData<string> Engines() => new(Available().Select(e => e.Name));

    private static IEnumerable<ZstdEngine> Available() => ZstdEngine.Native is { } native ? [native, ZstdEngine.Managed] : [ZstdEngine.Managed];
    private static ZstdEngine Engine(string name) => Available().Single(e => e.Name == name);

    [Fact]
    public void TheSystemsLibzstdIsUsedWhereDebianShipsIt()
    {
        if (!File.Exists("/usr/lib/x86_64-linux-gnu/libzstd.so.1") && !File.Exists("/usr/lib/aarch64-linux-gnu/libzstd.so.1")) return;
        Assert.NotNull(ZstdEngine.Native);
        Assert.StartsWith("libzstd 1.", ZstdEngine.Native!.Name);
        if (Environment.GetEnvironmentVariable("BACKUPFS_ZSTD") is null) Assert.Same(ZstdEngine.Native, ZstdEngine.Default);
    }

    [Theory, MemberData(nameof(Engines))]
    public void WhatOneEngineCompressesEveryEngineDecompresses(string name)
    {
        var frame = new byte[Text.Length];
        Assert.True(Engine(name).TryCompress(Text, frame, out int written));
        Assert.True(written < Text.Length / 10);
        Assert.Equal(Text.Length, DataBlob.FrameContentSize(frame.AsSpan(0, written)));   // the content size is recorded, as PBS's frames do
        foreach (var reader in Available())
        {
            var back = new byte[Text.Length];
            Assert.Equal(Text.Length, reader.DecompressInto(frame.AsSpan(0, written), back));
            Assert.Equal(Text, back);
        }
    }

    [Theory, MemberData(nameof(Engines))]
    public void IncompressibleDataDoesNotFitAndIsReportedSo(string name)
    {
        var random = HashBlocks("zstd-random", 4096);
        var frame = new byte[random.Length];
        Assert.False(Engine(name).TryCompress(random, frame, out int written));
        Assert.Equal(0, written);
    }

    [Theory, MemberData(nameof(Engines))]
    public void AFrameDecodingToMoreThanTheDestinationIsCorrupt(string name)
    {
        var frame = new byte[Text.Length];
        Assert.True(Engine(name).TryCompress(Text, frame, out int written));
        var small = new byte[Text.Length - 1];
        var e = Assert.Throws<FormatCorruptException>(() => Engine(name).DecompressInto(frame.AsSpan(0, written), small));
        Assert.StartsWith("bad zstd frame", e.Message);
    }

    [Theory, MemberData(nameof(Engines))]
    public void TruncatedGarbageAndFlippedFramesAreCorruptNotACrash(string name)
    {
        var frame = new byte[Text.Length];
        Assert.True(Engine(name).TryCompress(Text, frame, out int written));
        var output = new byte[Text.Length];
        byte[][] bad =
        [
            frame.AsSpan(0, written / 2).ToArray(),                 // cut short
            [0x28, 0xB5, 0x2F, 0xFD],                               // a magic and nothing else
            HashBlocks("zstd-garbage", 64),                         // not a frame at all
        ];
        var flipped = frame.AsSpan(0, written).ToArray();
        flipped[written / 2] ^= 0xFF;                                // a corrupted body: an error or other bytes, never a crash
        foreach (var b in bad)
            Assert.Throws<FormatCorruptException>(() => Engine(name).DecompressInto(b, output));
        try { Engine(name).DecompressInto(flipped, output); }
        catch (FormatCorruptException) { }
    }

    [Fact]
    public void BlobsDecodeTheSameWhicheverEngineWroteThem()
    {
        var blob = DataBlob.Encode(Text);
        Assert.Equal(BlobKind.Compressed, DataBlob.GetKind(blob));
        Assert.Equal(Text, DataBlob.Decode(blob));
        var managed = new byte[Text.Length];
        Assert.Equal(Text.Length, ZstdEngine.Managed.DecompressInto(blob.AsSpan(DataBlob.HeaderSize), managed));
        Assert.Equal(Text, managed);
    }
}
