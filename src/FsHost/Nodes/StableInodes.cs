using System.IO.Hashing;
using System.Text;

namespace BackupFs.FsHost.Nodes;

/// <summary>st_ino numbers from what a node is (a path-like key, plus an entry's identity inside an
/// archive): the same entry shows the same number in every lookup and every mount.</summary>
public static class StableInodes
{
    public static ulong Of(string key, long entryIdentity = -1) => Of(Encoding.UTF8.GetBytes(key), entryIdentity);

    /// <summary>The same number from the key's UTF-8 bytes.</summary>
    public static ulong Of(ReadOnlySpan<byte> key, long entryIdentity = -1)
    {
        ulong h = XxHash64.HashToUInt64(key, entryIdentity);
        return h <= NodeRegistry.RootId ? h + 2 : h; // 1 is the root's
    }
}
