using System.Buffers;

namespace BackupFs.Datastore.Writing;

/// <summary>Backs up a file or block device as a fixed-chunk image archive (.img.fidx).</summary>
public static class ImageBackup
{
    public static async Task WriteAsync(SnapshotWriter writer, string archiveName, string path, Action<long, long>? progress = null, CancellationToken ct = default, int chunkSize = 4 * 1024 * 1024)
    {
        var archive = writer.CreateFixedArchive(archiveName, chunkSize);
        var buffer = ArrayPool<byte>.Shared.Rent(4 << 20);
        try
        {
            await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
            int n;
            while ((n = await input.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                archive.Write(buffer.AsSpan(0, n));
                progress?.Invoke(n, 0);
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        await writer.CloseArchiveAsync(archive).ConfigureAwait(false);
    }
}
