using System.Buffers.Binary;
using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Tests.Pxar;

/// <summary>
/// Goodbye tables that do not describe their directory exactly are format errors: several
/// records for one child, records whose sizes disagree with the entries (overlap or gap), a table
/// whose size disagrees with its records, repeated or unsorted names, too many entries.
/// </summary>
public class PxarGoodbyeValidationTests
{
    private static readonly PxarStat Dir = new(0x41ED, 0, 0, 0, 1, 0);
    private static readonly PxarStat File = new(0x81A4, 0, 0, 0, 2, 0);
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Root: file "a", directory "b" (file "x"), file "c".</summary>
    private static async Task<byte[]> BuildAsync()
    {
        var meta = new MemoryStream();
        using var e = await PxarEncoder.CreateAsync(meta, Dir);
        await e.AddFileAsync(B("a"), File, null, new MemoryStream("hello"u8.ToArray()), 5);
        await e.BeginDirectoryAsync(B("b"), Dir);
        await e.AddFileAsync(B("x"), File, null, new MemoryStream("inner"u8.ToArray()), 5);
        await e.EndDirectoryAsync();
        await e.AddFileAsync(B("c"), File, null, new MemoryStream("world"u8.ToArray()), 5);
        await e.FinishAsync();
        return meta.ToArray();
    }

    private const int RootItems = 3;
    private static int RootTableStart(byte[] a) => a.Length - PxarFormat.HeaderSize - (RootItems + 1) * PxarFormat.GoodbyeItemSize;

    /// <summary>Position of the root's goodbye record for <paramref name="name"/>.</summary>
    private static int RecordOf(byte[] a, string name)
    {
        ulong hash = PxarFormat.HashFilename(B(name));
        int items = RootTableStart(a) + PxarFormat.HeaderSize;
        for (int i = 0; i < RootItems; i++)
            if (BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(items + i * 24)) == hash) return items + i * 24;
        throw new InvalidOperationException("no record for " + name);
    }

    private static async Task<FormatCorruptException> ListFailsAsync(byte[] archive)
    {
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(archive));
        return await Assert.ThrowsAsync<FormatCorruptException>(async () =>
        {
            foreach (var entry in await accessor.ListDirectoryAsync(accessor.Root))
                if (entry.Kind == PxarEntryKind.Directory) await accessor.ListDirectoryAsync(entry);
        });
    }

    [Fact]
    public async Task TheUnchangedArchiveLists()
    {
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(await BuildAsync()));
        Assert.Equal(["a", "b", "c"], (await accessor.ListDirectoryAsync(accessor.Root)).Select(e => e.NameString));
    }

    [Fact]
    public async Task TwoRecordsForOneChildAreRefused()
    {
        var a = await BuildAsync();
        a.AsSpan(RecordOf(a, "a") + 8, 16).CopyTo(a.AsSpan(RecordOf(a, "c") + 8)); // "c"'s record now points at "a"
        Assert.Contains("several items", (await ListFailsAsync(a)).Message);
    }

    [Theory]
    [InlineData(24)]
    [InlineData(-24)]
    public async Task ADirectoryRecordWhoseSizeDisagreesIsRefused(int delta)
    {
        var a = await BuildAsync();
        int record = RecordOf(a, "b");
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(record + 16));
        BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(record + 16), (ulong)((long)size + delta));
        await ListFailsAsync(a);
    }

    [Fact]
    public async Task RecordsThatOverlapTheNextChildAreRefused()
    {
        // "c"'s record moved 8 bytes back: it starts inside "b", the children no longer tile the directory.
        var a = await BuildAsync();
        int record = RecordOf(a, "c");
        ulong distance = BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(record + 8));
        BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(record + 8), distance + 8);
        await ListFailsAsync(a);
    }

    [Fact]
    public async Task ATableWhoseSizeDisagreesWithItsRecordsIsRefused()
    {
        var a = await BuildAsync();
        int tail = a.Length - PxarFormat.GoodbyeItemSize;
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(tail + 16));
        BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(tail + 16), size - 24);
        await Assert.ThrowsAsync<FormatCorruptException>(async () =>
        {
            var accessor = await PxarAccessor.OpenAsync(new MemorySource(a));
            await accessor.ListDirectoryAsync(accessor.Root);
        });
    }

    [Theory]
    [InlineData("a", "c")] // "c" renamed "a": a repeated name
    [InlineData("c", "a")] // "a" renamed "c": names out of order
    public async Task RepeatedOrUnsortedNamesAreRefused(string to, string from)
    {
        var a = await BuildAsync();
        int at = a.AsSpan().IndexOf(Encoding.ASCII.GetBytes(from + "\0"));
        if (from == "c") at = a.AsSpan().LastIndexOf("c\0"u8);
        a[at] = (byte)to[0];
        // Without the record's hash following the name, the hash check refuses it first.
        Assert.Contains("hash of another name", (await ListFailsAsync((byte[])a.Clone())).Message);
        BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(RecordOf(a, from)), PxarFormat.HashFilename(B(to)));
        Assert.Contains("twice or out of order", (await ListFailsAsync(a)).Message);
    }

    [Fact]
    public async Task ALookupOfARepeatedNameIsRefused()
    {
        // Two children named "a" with matching hashes: the lookup sees both records and refuses.
        var meta = new MemoryStream();
        using (var e = await PxarEncoder.CreateAsync(meta, Dir))
        {
            await e.AddFileAsync(B("a"), File, null, new MemoryStream([]), 0);
            await e.AddFileAsync(B("b"), File, null, new MemoryStream([]), 0);
            await e.FinishAsync();
        }
        var a = meta.ToArray();
        a[a.AsSpan().IndexOf("b\0"u8)] = (byte)'a';
        int items = a.Length - PxarFormat.HeaderSize - 3 * PxarFormat.GoodbyeItemSize + PxarFormat.HeaderSize;
        for (int i = 0; i < 2; i++) BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(items + i * 24), PxarFormat.HashFilename(B("a")));
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(a));
        var e2 = await Assert.ThrowsAsync<FormatCorruptException>(async () => await accessor.LookupAsync(accessor.Root, "a"));
        Assert.Contains("twice", e2.Message);
    }
}
