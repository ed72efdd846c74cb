using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// Backs up a directory tree as one pxar archive (PBS's single-stream layout, root.pxar.didx),
/// chunked by the content-defined chunker and deduplicated against the store.
/// </summary>
public static class DirectoryBackup
{
    public static async Task WriteAsync(SnapshotWriter writer, string archiveName, string sourceDirectory,
        Action<long, long>? progress = null, CancellationToken ct = default, int averageChunkSize = Formats.Chunker.DefaultAverageSize)
    {
        var archive = writer.CreateDynamicArchive(archiveName, averageChunkSize);
        long reported = 0;
        using var reporter = progress is null ? null : new Timer(_ => Report(), null, 250, 250);
        void Report()
        {
            long now = archive.BytesWritten;
            long delta = now - Interlocked.Exchange(ref reported, now);
            if (delta > 0) progress!(delta, 0);
        }
        await PxarTreeEncoder.EncodeAsync(sourceDirectory, archive, null, ct).ConfigureAwait(false);
        await writer.CloseArchiveAsync(archive).ConfigureAwait(false);
        if (progress is not null) Report();
    }
}
