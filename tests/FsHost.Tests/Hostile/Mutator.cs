using System.Buffers.Binary;

namespace BackupFs.FsHost.Tests.Hostile;

/// <summary>Seeded random damage to a file's bytes: bit flips, truncation, byte splices, changed length fields.</summary>
internal static class Mutator
{
    public static readonly string[] Kinds = ["bitflip", "truncate", "splice", "length", "zero"];

    public static byte[] Mutate(byte[] input, Random rng, out string kind)
    {
        kind = Kinds[rng.Next(Kinds.Length)];
        if (input.Length == 0) return [(byte)rng.Next(256)];
        var b = (byte[])input.Clone();
        switch (kind)
        {
            case "bitflip":
                for (int i = rng.Next(1, 9); i > 0; i--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return b;
            case "truncate":
                return b[..rng.Next(b.Length)];
            case "splice":
            {
                // Copy a range from elsewhere in the file over (or into) another position.
                int from = rng.Next(b.Length), length = rng.Next(1, Math.Min(512, b.Length - from) + 1), to = rng.Next(b.Length);
                var piece = b.AsSpan(from, length).ToArray();
                if (rng.Next(2) == 0)
                {
                    piece.AsSpan(0, Math.Min(length, b.Length - to)).CopyTo(b.AsSpan(to));
                    return b;
                }
                return [.. b.AsSpan(0, to), .. piece, .. b.AsSpan(to)];
            }
            case "length":
            {
                // A 4- or 8-byte little-endian field made implausible (or plausibly wrong).
                bool wide = rng.Next(2) == 0 && b.Length >= 8;
                int width = wide ? 8 : Math.Min(4, b.Length);
                int at = rng.Next(b.Length - width + 1);
                if (rng.Next(2) == 0) at &= ~(width - 1);
                ulong old = wide ? BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at)) : width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at)) : b[at];
                ulong[] candidates = [0, 1, old + 1, old - 1, old * 2, old + 24, old - 24, 0xFFFF_FFFF, 0x8000_0000, long.MaxValue, ulong.MaxValue, (ulong)rng.NextInt64()];
                ulong value = candidates[rng.Next(candidates.Length)];
                if (wide) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), value);
                else if (width == 4) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), (uint)value);
                else b[at] = (byte)value;
                return b;
            }
            default:
            {
                int from = rng.Next(b.Length);
                b.AsSpan(from, rng.Next(1, Math.Min(256, b.Length - from) + 1)).Clear();
                return b;
            }
        }
    }
}
