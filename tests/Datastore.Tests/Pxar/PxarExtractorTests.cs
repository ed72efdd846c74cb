using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

public class PxarExtractorTests
{
    private static string Vec(string name) => Path.Combine(TestPaths.Vectors, "pxar", name);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ExtractingTheReferenceArchiveRestoresTheListing(bool split)
    {
        using var tmp = new TempDir();
        var accessor = split
            ? await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.mpxar")), MemorySource.FromFile(Vec("A.ppxar")))
            : await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.pxar")));
        var target = tmp.Sub("out");
        await new PxarExtractor(accessor).ExtractAsync(target);
        PxarListing.AssertEqual(PxarListing.FromJson(Vec("A.listing.json")), PxarListing.FromDirectory(target));
    }

    [Fact]
    public async Task ExtractsASubtreeAndASingleFile()
    {
        using var tmp = new TempDir();
        var accessor = await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.pxar")));
        await new PxarExtractor(accessor).ExtractAsync(tmp.Sub("sub"), "a/b");
        Assert.True(File.Exists(Path.Combine(tmp.Sub("sub"), "c", "deep.bin")));
        Assert.Equal(1572881, new FileInfo(Path.Combine(tmp.Sub("sub"), "large.bin")).Length);
        Assert.Equal("on a dir", Encoding.UTF8.GetString(Posix.GetXattr(Posix.PathBytes(tmp.Sub("sub")), "user.dirattr"u8)!));
        // A hardlink whose target is not extracted becomes a plain copy.
        await new PxarExtractor(accessor).ExtractAsync(tmp.Sub("one"), "a/small.txt");
        Assert.Equal("hello, backup\n", File.ReadAllText(Path.Combine(tmp.Sub("one"), "small.txt")));
        Assert.Equal("kept", Encoding.UTF8.GetString(Posix.GetXattr(Posix.PathBytes(Path.Combine(tmp.Sub("one"), "small.txt")), "user.comment"u8)!));
    }

    /// <summary>Every kind of entry the tree encoder knows, odd names included.</summary>
    private static void MakeRichTree(string root)
    {
        byte[] P(string rel) => Posix.PathBytes(Path.Combine(root, rel));
        Directory.CreateDirectory(Path.Combine(root, "dir/sub"));
        Directory.CreateDirectory(Path.Combine(root, "acl-dir"));
        File.WriteAllBytes(Path.Combine(root, "empty"), []);
        File.WriteAllBytes(Path.Combine(root, "dir/data.bin"), Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray());
        File.WriteAllText(Path.Combine(root, "dir/sub/x"), "x");
        File.WriteAllText(Path.Combine(root, "spaced name ü\n"), "odd");
        File.WriteAllText(Path.Combine(root, "-dash"), "dash");
        File.WriteAllText(Path.Combine(root, "linked"), "shared content");
        Posix.Link(P("linked"), P("dir/second-link"));
        Posix.Link(P("linked"), P("third-link"));
        Posix.Symlink("../linked"u8, P("dir/rel"));
        Posix.Symlink("/nonexistent/abs"u8, P("abs"));
        Posix.Mkfifo(P("fifo"), 0x1A4);
        Posix.Mknod(P("socket"), 0xC000 | 0x1ED, 0, 0);
        Posix.Mknod(P("null-dev"), 0x2000 | 0x1B6, 1, 3);
        Posix.Mknod(P("block-dev"), 0x6000 | 0x180, 259, 70000);
        var nonUtf8 = Posix.Terminate(Encoding.ASCII.GetBytes(root + "/raw-"))[..^1].Concat(new byte[] { 0xff, 0xfe }).ToArray();
        using (var fs = Posix.Open(nonUtf8, OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, FileAccess.Write)) fs.Write("raw"u8);
        Posix.SetXattr(P("dir/data.bin"), "user.one"u8, "1"u8);
        Posix.SetXattr(P("dir/data.bin"), "user.two"u8, new byte[1000]);
        Posix.SetXattr(P("dir"), "user.d"u8, ""u8);
        Posix.SetXattr(P("dir/sub/x"), "trusted.t"u8, "tv"u8);
        Posix.SetXattr(P("empty"), "security.capability"u8, Convert.FromHexString("0100000200040000000000000000000000000000"));
        var acl = new PxarAcl { GroupObj = 4 };
        acl.Users.Add(new PxarAclEntry(1234, 6));
        acl.Groups.Add(new PxarAclEntry(99, 5));
        Posix.Chmod(P("-dash"), 0x1F8 /* 0770: mask rwx */);
        Posix.SetXattr(P("-dash"), Encoding.ASCII.GetBytes(PosixAclXattr.AccessName), PosixAclXattr.BuildAccess(acl, 0x1F8)!);
        var dacl = new PxarAcl { Default = new PxarAclDefault(7, 5, 0, 7) };
        dacl.DefaultUsers.Add(new PxarAclEntry(1000, 7));
        Posix.SetXattr(P("acl-dir"), Encoding.ASCII.GetBytes(PosixAclXattr.DefaultName), PosixAclXattr.BuildDefault(dacl)!);
        Posix.LChown(P("dir/sub/x"), 4321, 8765);
        Posix.LChown(P("abs"), 11, 12);
        Posix.Chmod(P("dir/sub"), 0x5ED /* 02755 */);
        Posix.Chmod(P("dir/sub/x"), 0x9ED /* 04755 */);
        foreach (var (rel, t) in new[] { ("dir/sub/x", -1_001_000_000L), ("empty", 1_234_567_890_123_456_789L), ("abs", 42L), ("dir/sub", 5_000_000_001L), ("dir", 7L), ("", 8L) })
            Posix.SetTimesNoFollow(P(rel), PxarStat.SplitNanoseconds(t).Seconds, PxarStat.SplitNanoseconds(t).Nanoseconds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EncodeExtractRoundTripRestoresIdentically(bool split)
    {
        using var tmp = new TempDir();
        var source = tmp.Sub("source");
        Directory.CreateDirectory(source);
        MakeRichTree(source);
        var (first, firstPayload) = await EncodeAsync(source, split);
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(first), firstPayload is null ? null : new MemorySource(firstPayload));

        var meta = await accessor.ReadMetadataAsync((await accessor.LookupPathAsync("-dash"))!);
        Assert.Equal([new PxarAclEntry(1234, 6)], meta.Acl.Users);
        Assert.Equal(4ul, meta.Acl.GroupObj);
        Assert.NotNull((await accessor.ReadMetadataAsync((await accessor.LookupPathAsync("empty"))!)).Fcaps);
        Assert.NotNull((await accessor.ReadMetadataAsync((await accessor.LookupPathAsync("acl-dir"))!)).Acl.Default);
        var dev = (await accessor.LookupPathAsync("block-dev"))!;
        Assert.Equal((PxarEntryKind.BlockDevice, 259ul, 70000ul), (dev.Kind, dev.DeviceMajor, dev.DeviceMinor));
        Assert.NotNull(await accessor.LookupAsync(accessor.Root, new byte[] { (byte)'r', (byte)'a', (byte)'w', (byte)'-', 0xff, 0xfe }));
        var counts = await PxarHardlinkCounter.CountAsync(accessor);
        Assert.Equal(3, counts[(await accessor.LookupPathAsync("dir/second-link"))!.Identity]);

        var restored = tmp.Sub("restored");
        await new PxarExtractor(accessor).ExtractAsync(restored);
        var (second, secondPayload) = await EncodeAsync(restored, split);
        // Re-encoding the restored tree gives the same bytes: every name, mode, owner, mtime, xattr, ACL,
        // fcaps, device number, link and content survived.
        Assert.True(first.AsSpan().SequenceEqual(second), $"archives differ at {first.AsSpan().CommonPrefixLength(second)}");
        if (split) Assert.True(firstPayload.AsSpan().SequenceEqual(secondPayload));
        Assert.Equal(3u, Posix.LStat(Posix.PathBytes(Path.Combine(restored, "linked"))).Nlink);
    }

    private static async Task<(byte[], byte[]?)> EncodeAsync(string dir, bool split)
    {
        var meta = new MemoryStream();
        var payload = split ? new MemoryStream() : null;
        await PxarTreeEncoder.EncodeAsync(dir, meta, new PxarEncoderOptions { PayloadOutput = payload });
        return (meta.ToArray(), payload?.ToArray());
    }

    [Fact]
    public async Task ExistingEntriesAreNotOverwrittenUnlessAsked()
    {
        using var tmp = new TempDir();
        var accessor = await PxarAccessor.OpenAsync(MemorySource.FromFile(Vec("A.pxar")));
        var target = tmp.Sub("t");
        Directory.CreateDirectory(Path.Combine(target, "a"));
        File.WriteAllText(Path.Combine(target, "a", "empty"), "old");
        await Assert.ThrowsAsync<IOException>(async () => await new PxarExtractor(accessor).ExtractAsync(target));
        await new PxarExtractor(accessor, new PxarExtractOptions { Overwrite = true }).ExtractAsync(target);
        Assert.Equal(0, new FileInfo(Path.Combine(target, "a", "empty")).Length);
    }
}
