using System.Security.Cryptography;
using System.Text;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Tests.Formats;

/// <summary>Test streams and a driver that collects the chunk end offsets a chunker produces.</summary>
internal static class ChunkerStreams
{
    /// <summary>Blocks SHA-256("&lt;prefix&gt;:&lt;i&gt;"), i = 0, 1, …, concatenated and cut to length (vectors/chunker/README).</summary>
    public static byte[] HashBlocks(string prefix, int length)
    {
        var data = new byte[length];
        Span<byte> block = stackalloc byte[32];
        for (int i = 0, pos = 0; pos < length; i++, pos += 32)
        {
            SHA256.HashData(Encoding.UTF8.GetBytes($"{prefix}:{i}"), block);
            block[..Math.Min(32, length - pos)].CopyTo(data.AsSpan(pos));
        }
        return data;
    }

    /// <summary>PBS's chunker unit-test buffer: the little-endian bytes of u32 0, 1, …, 262143 (1 MiB).</summary>
    public static byte[] CountingWords()
    {
        var data = new byte[1024 * 1024];
        for (int i = 0; i < 256 * 1024; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4 * i), (uint)i);
        return data;
    }

    /// <summary>x ← x·6364136223846793005 + 1442695040888963407 (mod 2⁶⁴), byte = x &gt;&gt; 56 (formats.md §5).</summary>
    public static byte[] Lcg(int length)
    {
        var data = new byte[length];
        ulong x = 0;
        for (int i = 0; i < length; i++)
        {
            x = unchecked(x * 6364136223846793005UL + 1442695040888963407UL);
            data[i] = (byte)(x >> 56);
        }
        return data;
    }

    /// <summary>Feeds <paramref name="data"/> in pieces of at most <paramref name="feed"/> bytes; returns every chunk's end offset (the last is the length).</summary>
    public static List<long> Ends(Func<ReadOnlySpan<byte>, int> scan, byte[] data, int feed = int.MaxValue)
    {
        var ends = new List<long>();
        int pos = 0, last = 0;
        while (pos < data.Length)
        {
            int piece = Math.Min(feed, data.Length - pos);
            int n = scan(data.AsSpan(pos, piece));
            if (n < 0 || n > piece) throw new InvalidOperationException($"scan returned {n} for {piece} bytes");
            if (n > 0)
            {
                pos += n;
                ends.Add(pos);
                last = pos;
            }
            else pos += piece;
        }
        if (last < data.Length) ends.Add(data.Length);
        return ends;
    }

    public static List<long> Sizes(IReadOnlyList<long> ends) =>
        ends.Select((end, i) => end - (i == 0 ? 0 : ends[i - 1])).ToList();

    public static List<long> ReadEnds(string file) =>
        File.ReadAllLines(file).Where(l => l.Trim().Length > 0).Select(l => long.Parse(l.Trim())).ToList();
}
