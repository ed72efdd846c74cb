using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Formats;

/// <summary>
/// Content-defined chunker for dynamic-index (.didx) streams, cutting exactly where PBS cuts:
/// buzhash over a 64-byte window, restarted at every chunk; a chunk ends after the byte where
/// <c>(hash &amp; mask) &gt;= mask - 2</c> with <c>mask = 2·avg − 1</c>, but never before
/// avg/4 bytes, and always at avg·4 bytes. The first 64 bytes of a chunk only fill the window.
/// </summary>
/// <remarks>
/// Equal boundaries matter for deduplication against backups PBS made, so this must stay
/// byte-for-byte equal to PBS (tests compare it with reference boundary lists).
/// </remarks>
public sealed class Chunker
{
    public const int DefaultAverageSize = 4 * 1024 * 1024;
    /// <summary>Bytes in the rolling-hash window.</summary>
    public const int WindowSize = 64;
    /// <summary>Largest accepted average, so the maximum chunk (4 × average) fits an int.</summary>
    public const int MaxAverageSize = 256 * 1024 * 1024;

    private readonly uint _mask;
    private readonly uint _threshold;
    private readonly byte[] _window = new byte[WindowSize];
    private uint _hash;
    private int _length; // bytes of the current chunk scanned so far

    /// <param name="averageSize">a power of two, from 64 bytes to 256 MiB</param>
    /// <exception cref="ArgumentException">not a power of two, or out of that range</exception>
    public Chunker(int averageSize = DefaultAverageSize)
    {
        if (averageSize < WindowSize || averageSize > MaxAverageSize || !BitOperations.IsPow2(averageSize))
            throw new ArgumentException(
                $"the average chunk size must be a power of two from {WindowSize} to {MaxAverageSize} bytes (got {averageSize})",
                nameof(averageSize));
        AverageSize = averageSize;
        MinSize = averageSize / 4;
        MaxSize = averageSize * 4;
        _mask = 2 * (uint)averageSize - 1;
        _threshold = _mask - 2;
    }

    public int AverageSize { get; }
    public int MinSize { get; }
    public int MaxSize { get; }

    /// <summary>Bytes scanned since the current chunk began.</summary>
    internal int CurrentLength => _length;

    /// <summary>
    /// Feeds the next bytes of the stream. Returns n &gt; 0 when a chunk boundary falls after
    /// <c>data[n-1]</c> (the state is then reset and the caller feeds <c>data[n..]</c> next), or 0
    /// when all of <paramref name="data"/> belongs to the current chunk.
    /// </summary>
    public int Scan(ReadOnlySpan<byte> data)
    {
        int n = data.Length;
        int i = 0;
        uint h = _hash;
        int length = _length;
        int min = MinSize, max = MaxSize;
        uint mask = _mask, threshold = _threshold;
        ref uint table = ref MemoryMarshal.GetArrayDataReference(BuzHashTable.Values);
        ref byte src = ref MemoryMarshal.GetReference(data);
        ref byte window = ref MemoryMarshal.GetArrayDataReference(_window);

        // Window fill: the first 64 bytes of a chunk enter the hash without any boundary test.
        while (length < WindowSize && i < n)
        {
            byte b = Unsafe.Add(ref src, i);
            Unsafe.Add(ref window, length) = b;
            h = BitOperations.RotateLeft(h, 1) ^ Unsafe.Add(ref table, b);
            length++;
            i++;
        }
        if (length < WindowSize)
        {
            _hash = h;
            _length = length;
            return 0;
        }

        // Rolling, while the byte leaving the window precedes data[0] and so sits in the saved ring.
        // (64 is a multiple of 32, so the leaving byte's table value needs no rotation.)
        int ringEnd = Math.Min(n, WindowSize);
        for (; i < ringEnd; i++)
        {
            byte b = Unsafe.Add(ref src, i);
            ref byte slot = ref Unsafe.Add(ref window, length & (WindowSize - 1));
            h = BitOperations.RotateLeft(h, 1) ^ Unsafe.Add(ref table, slot) ^ Unsafe.Add(ref table, b);
            slot = b;
            length++;
            if (length >= max || (length >= min && (h & mask) >= threshold))
                return Cut(i + 1);
        }

        // Rolling with the leaving byte read from data itself: the hot loop. It is split into the
        // part below the minimum size (no test) and the part that tests, so each loop stays tight.
        int stop = i + Math.Max(0, Math.Min(n - i, min - 1 - length));
        length += stop - i;
        // Below the minimum nothing is tested, and the hash depends only on the last 64 bytes (a
        // byte's value is rotated 64 times, the identity for 32 bits, as it leaves), so the bytes
        // before the last 64 of this stretch need no hashing at all: a quarter of an average chunk.
        if (stop - i > WindowSize)
        {
            h = 0;
            for (i = stop - WindowSize; i < stop; i++)
                h = BitOperations.RotateLeft(h, 1) ^ Unsafe.Add(ref table, Unsafe.Add(ref src, i));
        }
        else
        {
            for (; i < stop; i++)
                h = BitOperations.RotateLeft(h, 1) ^ Unsafe.Add(ref table, Unsafe.Add(ref src, i - WindowSize))
                                                 ^ Unsafe.Add(ref table, Unsafe.Add(ref src, i));
        }

        int start = i;
        stop = i + Math.Max(0, Math.Min(n - i, max - 1 - length));
        for (; i < stop; i++)
        {
            h = BitOperations.RotateLeft(h, 1) ^ Unsafe.Add(ref table, Unsafe.Add(ref src, i - WindowSize))
                                             ^ Unsafe.Add(ref table, Unsafe.Add(ref src, i));
            if ((h & mask) >= threshold)
                return Cut(i + 1);
        }
        length += stop - start;

        // The next byte completes a chunk of the maximum size.
        if (i < n)
            return Cut(i + 1);

        // No boundary: keep the last 64 bytes in the ring for the next call.
        for (int j = Math.Max(WindowSize, n - WindowSize); j < n; j++)
            Unsafe.Add(ref window, (length - (n - j)) & (WindowSize - 1)) = Unsafe.Add(ref src, j);
        _hash = h;
        _length = length;
        return 0;
    }

    /// <summary>Forgets the current chunk: the next byte fed starts a new one.</summary>
    public void Reset()
    {
        _hash = 0;
        _length = 0;
    }

    private int Cut(int position)
    {
        Reset();
        return position;
    }
}
