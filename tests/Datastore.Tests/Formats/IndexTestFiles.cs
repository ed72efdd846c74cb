using System.Security.Cryptography;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Tests.Formats;

/// <summary>Helpers to damage index files in controlled ways.</summary>
internal static class IndexTestFiles
{
    public static Digest D(int i) => Digest.Compute(BitConverter.GetBytes(i));

    /// <summary>Recomputes the header checksum so only the damage under test remains.</summary>
    public static byte[] FixChecksum(byte[] file)
    {
        SHA256.HashData(file.AsSpan(4096), file.AsSpan(32, 32));
        return file;
    }

    public static IEnumerable<string> StoreIndexes(string extension) =>
        Directory.EnumerateFiles(Path.Combine(TestSupport.TestPaths.Vectors, "store"), "*" + extension, SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}.chunks{Path.DirectorySeparatorChar}"))
            .Order();

    public static string ChunkPath(Digest digest) =>
        Path.Combine(TestSupport.TestPaths.Vectors, "store", ".chunks", digest.Prefix, digest.ToHex());
}
