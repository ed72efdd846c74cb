using System.Buffers.Binary;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>Deterministic pseudo-random bytes: the 8 bytes at offset 8k are SplitMix64(k), so any
/// range can be produced (and checked) independently of how it was read.</summary>
public static class GeneratedContent
{
    public static void Fill(long offset, Span<byte> destination)
    {
        if ((offset & 7) == 0 && (destination.Length & 7) == 0)
        {
            // Aligned fast path: whole words.
            var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(destination);
            var first = (ulong)(offset >> 3);
            for (var w = 0; w < words.Length; w++)
                words[w] = BitConverter.IsLittleEndian ? Mix(first + (ulong)w) : BinaryPrimitives.ReverseEndianness(Mix(first + (ulong)w));
            return;
        }
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
