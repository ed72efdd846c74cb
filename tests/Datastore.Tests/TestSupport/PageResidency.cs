using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Tests.TestSupport;

/// <summary>How much of a file is in the page cache (mincore over a shared mapping, which faults nothing in).</summary>
public static class PageResidency
{
    private const int ProtRead = 1, MapShared = 1;
    private const long TmpfsMagic = 0x01021994;

    /// <summary>The fraction of the file's pages that are cached (0 for an empty file).</summary>
    public static double Fraction(string path)
    {
        using var h = File.OpenHandle(path);
        long length = RandomAccess.GetLength(h);
        if (length == 0) return 0;
        nint map = mmap(0, (nuint)length, ProtRead, MapShared, (int)h.DangerousGetHandle(), 0);
        if (map == -1) throw new IOException($"mmap of {path} failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var pages = new byte[(length + Environment.SystemPageSize - 1) / Environment.SystemPageSize];
            if (mincore(map, (nuint)length, pages) != 0) throw new IOException($"mincore of {path} failed: errno {Marshal.GetLastPInvokeError()}");
            return pages.Count(static p => (p & 1) != 0) / (double)pages.Length;
        }
        finally { munmap(map, (nuint)length); }
    }

    /// <summary>Whether pages of files under <paramref name="path"/> can be dropped at all (tmpfs keeps them: they are the file).</summary>
    public static bool Droppable(string path)
    {
        var buf = new byte[256];
        return statfs(path, buf) == 0 && BitConverter.ToInt64(buf, 0) != TmpfsMagic;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);
    [DllImport("libc")]
    private static extern int munmap(nint addr, nuint length);
    [DllImport("libc", SetLastError = true)]
    private static extern int mincore(nint addr, nuint length, [Out] byte[] vec);
    [DllImport("libc")]
    private static extern int statfs([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] buf);
}
