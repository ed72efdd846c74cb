using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Tests.Pxar;

public class PxarFormatTests
{
    [Fact]
    public void SipHashMatchesTheReferenceVectors()
    {
        // Reference vectors of the SipHash paper: key 00..0f, message 00..(n-1).
        ulong k0 = 0x0706050403020100UL, k1 = 0x0f0e0d0c0b0a0908UL;
        var msg = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        Assert.Equal(0x726fdb47dd0e0e31UL, SipHash24.Hash(k0, k1, msg.AsSpan(0, 0)));
        Assert.Equal(0x74f839c593dc67fdUL, SipHash24.Hash(k0, k1, msg.AsSpan(0, 1)));
        Assert.Equal(0x93f5f5799a932462UL, SipHash24.Hash(k0, k1, msg.AsSpan(0, 8)));
        Assert.Equal(0xa129ca6149be45e5UL, SipHash24.Hash(k0, k1, msg.AsSpan(0, 15)));
        Assert.Equal(0x958a324ceb064572UL, SipHash24.Hash(k0, k1, msg.AsSpan(0, 63)));
    }

    [Fact]
    public void EveryTypeConstantIsTheHashOfItsString()
    {
        Assert.Equal(23, PxarFormat.Named.Count);
        foreach (var (text, value) in PxarFormat.Named)
            Assert.Equal((text, value), (text, PxarFormat.HashFilename(Encoding.ASCII.GetBytes(text))));
        // Keys are the first 32 hex digits of SHA-1("PROXMOX ARCHIVE FORMAT").
        var sha1 = Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData("PROXMOX ARCHIVE FORMAT"u8));
        Assert.Equal(sha1[..32], $"{PxarFormat.HashKey0:x16}{PxarFormat.HashKey1:x16}");
    }

    [Fact]
    public void EytzingerOrderMatchesCasync()
    {
        var dest = new int[5];
        GoodbyeTable.Permute(5, (src, d) => dest[d] = src);
        Assert.Equal([3, 1, 4, 0, 2], dest);
        for (int n = 1; n < 300; n++)
        {
            var seen = new int[n];
            var order = new int[n];
            GoodbyeTable.Permute(n, (src, d) => { seen[d]++; order[d] = src; });
            Assert.All(seen, c => Assert.Equal(1, c));
            // BST property: in-order traversal yields 0..n-1.
            var inorder = new List<int>();
            void Walk(int i) { if (i >= n) return; Walk(2 * i + 1); inorder.Add(order[i]); Walk(2 * i + 2); }
            Walk(0);
            Assert.Equal(Enumerable.Range(0, n), inorder);
        }
    }

    [Fact]
    public void FindAllReturnsEveryDuplicateHash()
    {
        ulong[] hashes = [1, 5, 5, 5, 7, 9, 9, 12, 5, 5];
        Array.Sort(hashes);
        var tree = new GoodbyeItem[hashes.Length];
        GoodbyeTable.Permute(hashes.Length, (src, d) => tree[d] = new GoodbyeItem(hashes[src], (ulong)src, 0));
        var matches = new List<int>();
        GoodbyeTable.FindAll(tree, 5, matches);
        Assert.Equal(5, matches.Count);
        matches.Clear();
        GoodbyeTable.FindAll(tree, 6, matches);
        Assert.Empty(matches);
        GoodbyeTable.FindAll(tree, 12, matches);
        Assert.Single(matches);
    }

    [Fact]
    public void HeaderAndStatRoundTrip()
    {
        var b = new byte[40];
        new PxarHeader(PxarFormat.Filename, 20).Write(b);
        Assert.Equal(new PxarHeader(PxarFormat.Filename, 20), PxarHeader.Read(b, 0));
        new PxarHeader(PxarFormat.Filename, 15).Write(b);
        Assert.Throws<FormatCorruptException>(() => PxarHeader.Read(b, 0));
        new PxarHeader(PxarFormat.Filename, 16 + 5000).Write(b);
        Assert.Throws<FormatCorruptException>(() => PxarHeader.Read(b, 0));
        new PxarHeader(PxarFormat.Payload, ulong.MaxValue).Write(b);
        Assert.Throws<FormatCorruptException>(() => PxarHeader.Read(b, 0));

        var stat = new PxarStat(0x81a4, 0x2000, 1000, 100, -2, 999_000_000);
        stat.Write(b);
        Assert.Equal(stat, PxarStat.Read(b));
        Assert.Equal((-2L, 999_000_000u), PxarStat.SplitNanoseconds(-1_001_000_000));
        Assert.Equal(PxarEntryKind.File, stat.Kind);
        Assert.Equal(420u /* 0644 */, stat.Permissions);
    }

    [Fact]
    public void FilenameRules()
    {
        Assert.True(PxarFormat.IsValidFilename("a b"u8));
        Assert.False(PxarFormat.IsValidFilename(""u8));
        Assert.False(PxarFormat.IsValidFilename("."u8));
        Assert.False(PxarFormat.IsValidFilename(".."u8));
        Assert.False(PxarFormat.IsValidFilename("a/b"u8));
        Assert.False(PxarFormat.IsValidFilename("a\0b"u8));
        Assert.True(PxarFormat.IsValidFilename("..."u8));
        Assert.False(PxarFormat.IsValidFilename(new byte[4097].AsSpan().ToArray().Select(_ => (byte)'x').ToArray()));
    }
}
