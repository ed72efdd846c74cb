using System.Text.Json;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// &lt;store&gt;/.gc-status: the last GC result as PBS writes it — compact JSON, kebab-case keys in
/// the field order of pbs-api-types GarbageCollectionStatus, cache-stats last.
/// </summary>
public static class GcStatusFile
{
    public const string FileName = ".gc-status";

    public static byte[] ToJson(GarbageCollectionStatus status)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (status.Upid is null) json.WriteNull("upid"); else json.WriteString("upid", status.Upid);
            json.WriteNumber("index-file-count", status.IndexFileCount);
            json.WriteNumber("index-data-bytes", status.IndexDataBytes);
            json.WriteNumber("disk-bytes", status.DiskBytes);
            json.WriteNumber("disk-chunks", status.DiskChunks);
            json.WriteNumber("removed-bytes", status.RemovedBytes);
            json.WriteNumber("removed-chunks", status.RemovedChunks);
            json.WriteNumber("pending-bytes", status.PendingBytes);
            json.WriteNumber("pending-chunks", status.PendingChunks);
            json.WriteNumber("removed-bad", status.RemovedBad);
            json.WriteNumber("still-bad", status.StillBad);
            json.WriteStartObject("cache-stats");
            json.WriteNumber("hits", status.CacheHits);
            json.WriteNumber("misses", status.CacheMisses);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>Writes the file atomically; errors are ignored as in PBS (the status is informational).</summary>
    public static bool TryWrite(DataStore store, GarbageCollectionStatus status)
    {
        try
        {
            AtomicFile.Write(Path.Combine(store.Root, FileName), ToJson(status));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The last run's values by key, or null when there is no readable file (PBS then shows defaults).</summary>
    public static IReadOnlyDictionary<string, JsonElement>? TryRead(DataStore store)
    {
        var path = Path.Combine(store.Root, FileName);
        try
        {
            using var doc = JsonDocument.Parse(StoreFile.ReadAll(path, StoreFileLimits.Small));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or BackupFsException)
        {
            return null;
        }
    }
}
