using System.Text;
using BackupFs.Datastore.Catalog;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// Backs up a directory tree as one pxar archive (PBS's single-stream layout, root.pxar.didx),
/// chunked by the content-defined chunker and deduplicated against the store, plus the file
/// catalog PBS's client writes beside such an archive (catalog.pcat1.didx, listed after it).
/// </summary>
public static class DirectoryBackup
{
    /// <summary>PBS's CATALOG_NAME.</summary>
    public const string CatalogFileName = "catalog.pcat1.didx";
    /// <summary>The client chunks the catalog stream with a 512 KiB average (proxmox-backup-client catalog_chunk_size).</summary>
    public const int CatalogAverageChunkSize = 512 * 1024;

    public static async Task WriteAsync(SnapshotWriter writer, string archiveName, string sourceDirectory,
        Action<long, long>? progress = null, CancellationToken ct = default, int averageChunkSize = Formats.Chunker.DefaultAverageSize)
    {
        if (archiveName == CatalogFileName) throw new InvalidNameException($"'{CatalogFileName}' is the catalog's name, not an archive name");
        var archive = writer.CreateDynamicArchive(archiveName, averageChunkSize);
        // The catalog goes through the same snapshot writer (and so the same chunk sink) as the archive.
        var catalogStream = writer.CreateDynamicArchive(CatalogFileName, CatalogAverageChunkSize);
        var catalog = new CatalogWriter(catalogStream);
        catalog.StartDirectory(Encoding.UTF8.GetBytes(archiveName));
        long reported = 0;
        using var reporter = progress is null ? null : new Timer(_ => Report(), null, 250, 250);
        void Report()
        {
            long now = archive.BytesWritten;
            long delta = now - Interlocked.Exchange(ref reported, now);
            if (delta > 0) progress!(delta, 0);
        }
        await PxarTreeEncoder.EncodeAsync(sourceDirectory, archive, new PxarEncoderOptions { Catalog = catalog }, ct).ConfigureAwait(false);
        await writer.CloseArchiveAsync(archive).ConfigureAwait(false);
        catalog.EndDirectory();
        catalog.Finish();
        await writer.CloseArchiveAsync(catalogStream).ConfigureAwait(false);
        if (progress is not null) Report();
    }
}
