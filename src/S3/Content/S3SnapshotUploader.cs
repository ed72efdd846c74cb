using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Content;

/// <summary>
/// Persists a finished snapshot's metadata from the local cache directory to the bucket in a
/// safe order: indexes and blobs first, the .protected marker (no-replace), the manifest
/// (index.json.blob) last, so a snapshot visible in the bucket always has its files.
/// </summary>
public static class S3SnapshotUploader
{
    /// <param name="snapshotRelativePath">e.g. "ns/a/vm/100/2025-07-14T14:20:02Z"</param>
    /// <returns>the number of objects written</returns>
    public static async Task<int> UploadAsync(IContentMirror mirror, string cacheRoot, string snapshotRelativePath, CancellationToken ct = default)
    {
        var reason = ContentPathRules.CheckDirectory(snapshotRelativePath);
        var parts = snapshotRelativePath.Split('/');
        if (reason != null || !ContentPathRules.IsSnapshotTime(parts[^1]))
            throw new InvalidNameException($"'{snapshotRelativePath}' is not a snapshot directory{(reason == null ? "" : ": " + reason)}");
        var dir = Path.Combine(cacheRoot, snapshotRelativePath);
        if (!Directory.Exists(dir)) throw new BackupFsException($"snapshot directory {dir} does not exist");

        var names = Directory.EnumerateFiles(dir).Select(Path.GetFileName).OfType<string>()
            .Where(ContentPathRules.IsSnapshotFileName)   // skips temp files of unfinished writes
            .ToList();
        var ordered = names.Where(n => n != DataStore.ManifestName && n != DataStore.ProtectedMarker).Order(StringComparer.Ordinal)
            .Concat(names.Where(n => n == DataStore.ProtectedMarker))
            .Concat(names.Where(n => n == DataStore.ManifestName));
        int written = 0;
        foreach (var name in ordered)
        {
            var data = await File.ReadAllBytesAsync(Path.Combine(dir, name), ct).ConfigureAwait(false);
            await mirror.PutAsync(snapshotRelativePath + "/" + name, data, noReplace: name == DataStore.ProtectedMarker, ct).ConfigureAwait(false);
            written++;
        }
        return written;
    }
}
