using System.Collections.Concurrent;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// Arrays for decoded chunks, in size classes of 64 KiB below 1 MiB and 1 MiB above, with a cap
/// on the bytes kept idle. A power-of-two pool (ArrayPool) hands an 8 MiB array to a 4.1 MiB
/// chunk and keeps two idle arrays of every size: with 4 MiB average chunks that doubled the
/// memory behind the chunk cache and readahead, and the mount's RSS with it.
/// </summary>
public sealed class ChunkArrayPool
{
    private const int SmallStep = 64 * 1024, LargeStep = 1024 * 1024;
    /// <summary>Arrays from this size on are asked to use huge pages (below it, the aligned part is small).</summary>
    private const int HugePageThreshold = 4 * 1024 * 1024;
    private readonly ConcurrentDictionary<int, ConcurrentBag<byte[]>> _idle = new();
    private readonly long _idleLimit;
    private long _idleBytes;

    public ChunkArrayPool(long idleLimitBytes) => _idleLimit = idleLimitBytes;

    /// <summary>Bytes held by idle arrays now.</summary>
    public long IdleBytes => Interlocked.Read(ref _idleBytes);

    /// <summary>The array length used for a request of <paramref name="length"/> bytes.</summary>
    public static int SizeClass(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        int step = length <= LargeStep ? SmallStep : LargeStep;
        long rounded = ((long)Math.Max(length, 1) + step - 1) / step * step;
        return rounded > Array.MaxLength ? length : (int)rounded;
    }

    /// <summary>
    /// An array of at least <paramref name="length"/> bytes: an idle one of the smallest size class
    /// that fits and wastes at most half as much again, else a new one. Chunks vary in size, so an
    /// exact class is rarely idle; a fresh array costs a page fault per 4 KiB (92,000 faults, about
    /// a fifth of the mount's CPU, in a cold 512 MiB read).
    /// </summary>
    public byte[] Rent(int length)
    {
        int size = SizeClass(length);
        long largest = size + size / 2L;
        while (true)
        {
            int best = int.MaxValue;
            foreach (var (candidate, idle) in _idle)
                if (candidate >= size && candidate <= largest && candidate < best && !idle.IsEmpty) best = candidate;
            if (best == int.MaxValue) break;
            if (_idle[best].TryTake(out var array))
            {
                Interlocked.Add(ref _idleBytes, -array.Length);
                return array;
            }
            // Another thread took it first: look again.
        }
        if (size < HugePageThreshold) return GC.AllocateUninitializedArray<byte>(size);
        // Pinned, so the huge-page advice stays with the memory it was given for.
        var fresh = GC.AllocateUninitializedArray<byte>(size, pinned: true);
        HugePages.Advise(fresh);
        return fresh;
    }

    /// <summary>Keeps the array for reuse unless that would exceed the idle cap (then the GC takes it).</summary>
    public void Return(byte[] array)
    {
        if (array.Length != SizeClass(array.Length)) return; // not one of ours
        if (Interlocked.Add(ref _idleBytes, array.Length) > _idleLimit)
        {
            Interlocked.Add(ref _idleBytes, -array.Length);
            return;
        }
        _idle.GetOrAdd(array.Length, static _ => new ConcurrentBag<byte[]>()).Add(array);
    }
}
