using System.Buffers.Binary;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>Deterministic pseudo-random bytes: the 8 bytes at offset 8k are SplitMix64(k), so any
/// range can be produced (and checked) independently of how it was read.</summary>
public static class GeneratedContent
{
    public static void Fill(long offset, Span<byte> destination)
    {
        Span<byte> word = stackalloc byte[8];
        var i = 0;
        while (i < destination.Length)
        {
            var position = offset + i;
            var k = position >> 3;
            var within = (int)(position & 7);
            BinaryPrimitives.WriteUInt64LittleEndian(word, Mix((ulong)k));
            var n = Math.Min(8 - within, destination.Length - i);
            word.Slice(within, n).CopyTo(destination.Slice(i, n));
            i += n;
        }
    }

    public static byte[] Bytes(long offset, int length)
    {
        var b = new byte[length];
        Fill(offset, b);
        return b;
    }

    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
