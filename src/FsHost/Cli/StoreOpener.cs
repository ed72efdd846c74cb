using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.S3;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// Opens the datastore a command names: a local datastore, or an S3 datastore through its local
/// cache directory (recognised by its .backupfs/s3.json). Either way the rest of the program sees
/// a <see cref="DataStore"/>.
/// </summary>
public static class StoreOpener
{
    public static DataStore Open(string path, S3OpenOptions? s3Options = null) => OpenS3Aware(path, s3Options).Store;

    /// <summary>Also returns the S3 side (null for a local datastore) for S3-only commands.</summary>
    public static (DataStore Store, S3Datastore? S3) OpenS3Aware(string path, S3OpenOptions? s3Options = null)
    {
        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new BackupFsException($"datastore {full} does not exist");
        if (S3Datastore.IsS3Datastore(full))
        {
            var s3 = S3Datastore.Open(full, s3Options);
            return (s3.ToDataStore(), s3);
        }
        if (!Directory.Exists(Path.Combine(full, ".chunks")))
            throw new BackupFsException($"{full} is not a datastore (no .chunks directory); create one with 'backupfs init'");
        return (DataStore.OpenLocal(full), null);
    }

    /// <summary>
    /// Opens a datastore for a command that writes (to the bucket, for an S3 store): a reader
    /// host's cache store is refused with one clear line before anything happens.
    /// </summary>
    /// <exception cref="BackupFsException">the store is a reader's</exception>
    public static DataStore OpenForWriting(string path, string command, S3OpenOptions? s3Options = null)
    {
        var (store, s3) = OpenS3Aware(path, s3Options);
        if (s3 is { IsReader: true })
        {
            s3.Dispose();
            throw new BackupFsException(
                $"{s3.CacheRoot} is a reader of S3 datastore '{s3.Config.StoreName}' (set up with --reader): '{command}' writes to the bucket, run it on the datastore's writer host");
        }
        return store;
    }

    public static S3Datastore OpenS3(string path, S3OpenOptions? s3Options = null)
    {
        var (_, s3) = OpenS3Aware(path, s3Options);
        return s3 ?? throw new BackupFsException($"{Path.GetFullPath(path)} is a local datastore, not an S3 one");
    }

    /// <summary>S3 options carrying a command's --s3-timeout (null: the store's configured timeout).</summary>
    public static S3OpenOptions WithTimeout(double? s3TimeoutSeconds) => new() { TimeoutSeconds = s3TimeoutSeconds };

    /// <summary>Decoded-chunk source for readers: decode + digest check, behind an in-memory cache.</summary>
    public static CachedChunkSource ChunkSource(DataStore store, long cacheBytes = 64L * 1024 * 1024) =>
        new(new DecodingChunkSource(store.Chunks), cacheBytes);

    /// <summary>The plain cache plus one per encryption key in use (same capacity each).</summary>
    public static ChunkSourceSet ChunkSources(DataStore store, CachedChunkSource plain, long cacheBytes = 64L * 1024 * 1024) =>
        new(store.Chunks, plain, cacheBytes);
}
