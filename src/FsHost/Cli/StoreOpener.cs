using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Cli;

/// <summary>Opens the datastore a command names, local or S3-backed, with a shared chunk cache.</summary>
public static class StoreOpener
{
    public static DataStore Open(string path)
    {
        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new BackupFsException($"datastore {full} does not exist");
        if (!Directory.Exists(Path.Combine(full, ".chunks"))) throw new BackupFsException($"{full} is not a datastore (no .chunks directory); create one with 'backupfs init'");
        return DataStore.OpenLocal(full);
    }

    /// <summary>Decoded-chunk source for readers: decode + digest check, behind an in-memory cache.</summary>
    public static CachedChunkSource ChunkSource(DataStore store, long cacheBytes = 256L * 1024 * 1024) =>
        new(new DecodingChunkSource(store.Chunks), cacheBytes);
}
