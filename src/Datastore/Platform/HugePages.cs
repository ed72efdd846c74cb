namespace BackupFs.Datastore.Platform;

/// <summary>
/// Asks the kernel to back large buffers with transparent huge pages where it only does so on
/// request (THP "madvise", the common default): a 4 MiB chunk buffer then faults in as two 2 MiB
/// pages instead of 1,024 small ones. Advice only; where it is refused nothing changes.
/// </summary>
public static unsafe class HugePages
{
    private const long Size = 2L * 1024 * 1024;

    /// <summary>Advises the 2 MiB-aligned part of a pinned array (it must never move).</summary>
    public static void Advise(byte[] pinnedArray)
    {
        if (!OperatingSystem.IsLinux() || pinnedArray.Length < Size) return;
        fixed (byte* p = pinnedArray)
        {
            long start = ((long)p + Size - 1) & ~(Size - 1);
            long end = ((long)p + pinnedArray.Length) & ~(Size - 1);
            if (end > start) _ = LibC.madvise((void*)start, (nuint)(end - start), LibC.MadvHugePage);
        }
    }
}
