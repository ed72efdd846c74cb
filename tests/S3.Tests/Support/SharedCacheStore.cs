using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.S3.Tests.Support;

/// <summary>
/// One local cache store (65536 prefix directories take seconds to create) shared by the tests
/// of a class; the tests use distinct chunks, so they only look at their own.
/// </summary>
public sealed class SharedCacheStore : IDisposable
{
    private readonly TempDir _dir = new("backupfs-s3cache-");
    public string Root => _dir.Path;
    public LocalChunkStore Store { get; }

    public SharedCacheStore() => Store = LocalChunkStore.Create(_dir.Path);

    public void Dispose() => _dir.Dispose();
}
