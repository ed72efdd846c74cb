using System.Buffers.Binary;

namespace BackupFs.Datastore.Pxar;

/// <summary>One goodbye-table record: name hash, backwards distance from the GOODBYE header, extent size.</summary>
public readonly record struct GoodbyeItem(ulong Hash, ulong Offset, ulong Size)
{
    public static GoodbyeItem Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b), BinaryPrimitives.ReadUInt64LittleEndian(b[8..]), BinaryPrimitives.ReadUInt64LittleEndian(b[16..]));

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, Hash);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(b[16..], Size);
    }
}

/// <summary>
/// The goodbye table's layout: items sorted by hash and stored as an implicit binary search tree
/// (Eytzinger order: children of i at 2i+1 and 2i+2), the same permutation casync/pxar produce.
/// </summary>
public static class GoodbyeTable
{
    /// <summary>Calls <paramref name="place"/>(sourceIndex, destinationIndex) for every item of a sorted array of n.</summary>
    public static void Permute(int n, Action<int, int> place)
    {
        if (n <= 0) return;
        PermuteRange(n, 0, 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)n), 0, place);
    }

    private static void PermuteRange(int n, int first, int level, int dest, Action<int, int> place)
    {
        // Size of the left subtree of a complete tree of n nodes whose last full level is `level`.
        long p = 1L << level;
        long t = p + (p >> 1) - 1;
        int m = (int)(n > t ? p - 1 : p - 1 - (t - n));
        place(first + m, dest);
        if (m > 0) PermuteRange(m, first, level - 1, 2 * dest + 1, place);
        if (m + 1 < n) PermuteRange(n - m - 1, first + m + 1, level - 1, 2 * dest + 2, place);
    }

    /// <summary>Builds the table bytes (items in tree order, then the tail item) for items given with absolute FILENAME offsets.</summary>
    public static byte[] Build(List<GoodbyeItem> itemsWithAbsoluteOffsets, long goodbyeOffset, long entryOffset)
    {
        var sorted = itemsWithAbsoluteOffsets.ToArray();
        Array.Sort(sorted, static (a, b) => a.Hash.CompareTo(b.Hash));
        int n = sorted.Length;
        var bytes = new byte[(n + 1) * PxarFormat.GoodbyeItemSize];
        Permute(n, (src, dest) =>
        {
            var item = sorted[src];
            new GoodbyeItem(item.Hash, (ulong)goodbyeOffset - item.Offset, item.Size)
                .Write(bytes.AsSpan(dest * PxarFormat.GoodbyeItemSize));
        });
        new GoodbyeItem(PxarFormat.GoodbyeTailMarker, (ulong)(goodbyeOffset - entryOffset), (ulong)(bytes.Length + PxarFormat.HeaderSize))
            .Write(bytes.AsSpan(n * PxarFormat.GoodbyeItemSize));
        return bytes;
    }

    /// <summary>Indices of all items with <paramref name="hash"/> in a tree-ordered array (duplicates may sit in both subtrees).</summary>
    public static void FindAll(ReadOnlySpan<GoodbyeItem> tree, ulong hash, List<int> matches)
    {
        // Iterative walk with an explicit stack; depth ≤ log2(n)+1, but equal keys may branch both ways.
        Span<int> stack = stackalloc int[128];
        int sp = 0;
        stack[sp++] = 0;
        while (sp > 0)
        {
            int i = stack[--sp];
            while (i < tree.Length)
            {
                ulong h = tree[i].Hash;
                if (hash < h) i = 2 * i + 1;
                else if (hash > h) i = 2 * i + 2;
                else
                {
                    matches.Add(i);
                    if (sp < stack.Length) stack[sp++] = 2 * i + 2;
                    i = 2 * i + 1;
                }
            }
        }
    }
}
