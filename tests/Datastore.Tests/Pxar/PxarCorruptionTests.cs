using System.Buffers.Binary;
using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

public class PxarCorruptionTests
{
    private static readonly PxarStat Dir = new(0x41ED, 0, 0, 0, 1, 0);
    private static readonly PxarStat File = new(0x81A4, 0, 0, 0, 2, 0);
    private static readonly PxarStat Link = new(0xA1FF, 0, 0, 0, 3, 0);

    /// <summary>A small archive: ab (file, xattr), cd/ (ef), sy (symlink), zz (hardlink to ab).</summary>
    private static async Task<(byte[] Meta, byte[]? Payload)> BuildAsync(bool split, string[]? names = null)
    {
        names ??= ["ab", "cd", "ef", "sy", "zz"];
        var meta = new MemoryStream();
        var payload = split ? new MemoryStream() : null;
        using var e = await PxarEncoder.CreateAsync(meta, Dir, null, new PxarEncoderOptions { PayloadOutput = payload });
        var xattrs = new PxarMetadata();
        xattrs.Xattrs.Add(new PxarXattr("user.k"u8.ToArray(), "v"u8.ToArray()));
        long ab = await e.AddFileAsync(B(names[0]), File, xattrs, new MemoryStream("hello"u8.ToArray()), 5);
        await e.BeginDirectoryAsync(B(names[1]), Dir);
        await e.AddFileAsync(B(names[2]), File, null, new MemoryStream(new byte[100]), 100);
        await e.EndDirectoryAsync();
        await e.AddSymlinkAsync(B(names[3]), Link, null, "target"u8.ToArray());
        await e.AddHardlinkAsync(B(names[4]), B(names[0]), ab);
        await e.FinishAsync();
        return (meta.ToArray(), payload?.ToArray());
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Opens and walks everything (names, stats, metadata, content); returns normally or throws.</summary>
    private static async Task WalkAllAsync(byte[] meta, byte[]? payload)
    {
        var a = await PxarAccessor.OpenAsync(new MemorySource(meta), payload is null ? null : new MemorySource(payload));
        await PxarListing.FromArchiveAsync(a);
    }

    private static async Task AssertCorruptAsync(byte[] meta, byte[]? payload = null) =>
        await Assert.ThrowsAsync<FormatCorruptException>(() => WalkAllAsync(meta, payload));

    private static List<(long Offset, ulong Type, ulong Size)> Items(byte[] data, long start = 0)
    {
        var list = new List<(long, ulong, ulong)>();
        for (long pos = start; pos + 16 <= data.Length;)
        {
            var h = PxarHeader.Read(data.AsSpan((int)pos), pos);
            list.Add((pos, h.Type, h.FullSize));
            pos += (long)h.FullSize;
        }
        return list;
    }

    [Fact]
    public async Task IntactArchivesWalk()
    {
        var (m1, _) = await BuildAsync(false);
        await WalkAllAsync(m1, null);
        var (m2, p2) = await BuildAsync(true);
        await WalkAllAsync(m2, p2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EveryTruncationIsReportedAsCorrupt(bool split)
    {
        var (meta, payload) = await BuildAsync(split);
        for (int length = 0; length < meta.Length; length++)
            await AssertCorruptAsync(meta[..length], payload);
        if (split)
            for (int length = 0; length < payload!.Length - 16; length++) // the tail marker itself is not needed to read
                await AssertCorruptAsync(meta, payload[..length]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EveryFlippedByteEitherDecodesOrIsReportedAsCorrupt(bool split)
    {
        var (meta, payload) = await BuildAsync(split);
        foreach (byte flip in new byte[] { 0xff, 0x01, 0x80 })
            for (int i = 0; i < meta.Length; i++)
            {
                var bad = (byte[])meta.Clone();
                bad[i] ^= flip;
                try { await WalkAllAsync(bad, payload); }
                catch (FormatCorruptException) { }
            }
    }

    [Fact]
    public async Task BadGoodbyeTablesAreCorrupt()
    {
        var (meta, _) = await BuildAsync(false);
        var bad = (byte[])meta.Clone();
        bad[^24] ^= 1; // root tail marker
        await AssertCorruptAsync(bad);

        bad = (byte[])meta.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan(bad.Length - 16), 12345); // root tail offset
        await AssertCorruptAsync(bad);

        var rootGoodbye = Items(meta).Last();
        foreach (ulong distance in new ulong[] { ulong.MaxValue, (ulong)rootGoodbye.Offset + 1, 0, 3, 17 })
        {
            bad = (byte[])meta.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan((int)rootGoodbye.Offset + 16 + 8), distance);
            await AssertCorruptAsync(bad);
        }
        bad = (byte[])meta.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan(bad.Length - 8), 16 + 24 * 1000); // tail size
        await AssertCorruptAsync(bad);
    }

    [Theory]
    [InlineData("a/")]
    [InlineData("..")]
    [InlineData("a\0")]
    public async Task BadFileNamesAreCorrupt(string badName)
    {
        var (meta, _) = await BuildAsync(false);
        int at = meta.AsSpan().IndexOf("ab\0"u8);
        var bad = (byte[])meta.Clone();
        Encoding.ASCII.GetBytes(badName).CopyTo(bad, at);
        await AssertCorruptAsync(bad);
    }

    [Fact]
    public async Task BadHeaderSizesAreCorrupt()
    {
        var (meta, _) = await BuildAsync(false);
        foreach (var (offset, type, _) in Items(meta).Where(i => i.Type != PxarFormat.Goodbye || i.Offset != Items(meta).Last().Offset))
            foreach (ulong size in new ulong[] { 0, 8, 15, ulong.MaxValue, (ulong)long.MaxValue, 1UL << 40 })
            {
                var bad = (byte[])meta.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan((int)offset + 8), size);
                await AssertCorruptAsync(bad);
            }
    }

    [Fact]
    public async Task PayloadReferencesOutOfRangeAreCorrupt()
    {
        var (meta, payload) = await BuildAsync(true);
        var refs = Items(meta).Where(i => i.Type == PxarFormat.PayloadRef).ToList();
        Assert.Equal(2, refs.Count);
        foreach (var (field, value) in new[] { (0, 1UL << 40), (0, ulong.MaxValue), (8, 1UL << 40), (8, 6UL), (0, 0UL), (0, 17UL) })
        {
            var bad = (byte[])meta.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan((int)refs[0].Offset + 16 + field), value);
            await AssertCorruptAsync(bad, payload);
        }
        // Damaged payload stream: wrong start marker, wrong PAYLOAD header.
        var badPayload = (byte[])payload!.Clone();
        badPayload[0] ^= 1;
        await AssertCorruptAsync(meta, badPayload);
        badPayload = (byte[])payload.Clone();
        badPayload[16] ^= 1;
        await AssertCorruptAsync(meta, badPayload);
    }

    [Fact]
    public async Task ExtractingBadNamesWritesNothingOutsideTheTarget()
    {
        using var tmp = new TempDir();
        var (meta, _) = await BuildAsync(false);
        int at = meta.AsSpan().IndexOf("cd\0"u8);
        var bad = (byte[])meta.Clone();
        ".."u8.CopyTo(bad.AsSpan(at));
        var target = tmp.Sub("target");
        var a = await PxarAccessor.OpenAsync(new MemorySource(bad));
        await Assert.ThrowsAsync<FormatCorruptException>(async () => await new PxarExtractor(a).ExtractAsync(target));
        Assert.Equal(["target"], Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName));
        Assert.False(System.IO.File.Exists(Path.Combine(tmp.Path, "ef")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ExtractionNeverFollowsASymlinkItCreated(bool overwrite)
    {
        // Crafted archive: symlink "cd" -> outside, then directory "cd" holding "ef" (duplicate names).
        using var tmp = new TempDir();
        var outside = tmp.Sub("outside");
        Directory.CreateDirectory(outside);
        var meta = new MemoryStream();
        using (var e = await PxarEncoder.CreateAsync(meta, Dir))
        {
            await e.AddSymlinkAsync(B("cc"), Link, null, Encoding.UTF8.GetBytes(outside));
            await e.BeginDirectoryAsync(B("cd"), Dir);
            await e.AddFileAsync(B("ef"), File, null, new MemoryStream("evil"u8.ToArray()), 4);
            await e.EndDirectoryAsync();
            await e.FinishAsync();
        }
        var bad = meta.ToArray();
        "cd"u8.CopyTo(bad.AsSpan(bad.AsSpan().IndexOf("cc\0"u8)));
        var a = await PxarAccessor.OpenAsync(new MemorySource(bad));
        var target = tmp.Sub("target");
        // Duplicate names are refused as a format error now; either way nothing lands outside.
        try { await new PxarExtractor(a, new PxarExtractOptions { Overwrite = overwrite }).ExtractAsync(target); }
        catch (Exception e) when (e is IOException or FormatCorruptException) { }
        Assert.Empty(Directory.GetFileSystemEntries(outside));
    }

    [Fact]
    public async Task EncoderRejectsBadNamesAndOrder()
    {
        using var e = await PxarEncoder.CreateAsync(new MemoryStream(), Dir);
        await Assert.ThrowsAsync<InvalidNameException>(async () => await e.AddSymlinkAsync(B("a/b"), Link, null, B("t")));
        await Assert.ThrowsAsync<InvalidNameException>(async () => await e.AddSymlinkAsync(B(".."), Link, null, B("t")));
        await e.AddSymlinkAsync(B("b"), Link, null, B("t"));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await e.AddSymlinkAsync(B("a"), Link, null, B("t")));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await e.AddSymlinkAsync(B("b"), Link, null, B("t")));
        await Assert.ThrowsAsync<ArgumentException>(async () => await e.AddSymlinkAsync(B("c"), File, null, B("t")));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await e.AddPayloadReferenceAsync(B("d"), File, null, 16, 1));
        await Assert.ThrowsAsync<IOException>(async () => await e.AddFileAsync(B("e"), File, null, new MemoryStream(new byte[3]), 10));
    }
}
