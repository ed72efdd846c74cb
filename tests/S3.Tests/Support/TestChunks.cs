using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Tests.Support;

/// <summary>Valid chunk blobs with distinct contents.</summary>
public static class TestChunks
{
    public static (Digest Digest, byte[] Blob, byte[] Data) Make(int seed, int size = 4096)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return (Digest.Compute(data), DataBlob.Encode(data), data);
    }
}
