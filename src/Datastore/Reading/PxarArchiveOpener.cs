using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Reading;

/// <summary>
/// Opens a snapshot's pxar archive by its user-facing name: "root.pxar" is root.pxar.didx (v1,
/// one stream) or the split pair root.mpxar.didx + root.ppxar.didx (v2).
/// </summary>
public static class PxarArchiveOpener
{
    /// <summary>The pxar archive names of a snapshot ("root.pxar", …), one per v1 archive or v2 pair.</summary>
    public static IEnumerable<string> ArchiveNames(IEnumerable<string> fileNames) => ArchiveResolver.PxarNames(fileNames);

    /// <summary>The index file names behind a pxar archive name (metadata, optional payload).</summary>
    public static (string Metadata, string? Payload) FileNamesFor(IEnumerable<string> fileNames, string archiveName)
    {
        var names = fileNames.ToList();
        var archive = ArchiveResolver.FindPxar(names, archiveName)
            ?? throw new BackupFsException($"no pxar archive '{archiveName}' (archives: {string.Join(", ", ArchiveNames(names))})");
        return (archive.IndexFile, archive.PayloadFile);
    }

    /// <param name="chunks">the plain chunk cache; encrypted archives use the reader's keyed one</param>
    public static async ValueTask<PxarAccessor> OpenAsync(SnapshotReader snapshot, CachedChunkSource chunks, string archiveName, CancellationToken ct = default)
    {
        var (metadata, payload) = FileNamesFor(snapshot.FileNames, archiveName);
        chunks = snapshot.ChunksFor(metadata, chunks);
        var meta = new PrefetchingReader(snapshot.OpenIndex(metadata), chunks);
        var data = payload is null ? null : new PrefetchingReader(snapshot.OpenIndex(payload), chunks);
        try
        {
            return await PxarAccessor.OpenAsync(meta, data, ct).ConfigureAwait(false);
        }
        catch (FormatCorruptException e)
        {
            throw new FormatCorruptException($"{snapshot.Snapshot}/{metadata}: {e.Message}", e);
        }
    }
}
