using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.S3.Maintenance;

namespace BackupFs.S3.Chunks;

/// <summary>GC and verify for an S3 datastore pick the bucket-aware backends.</summary>
public sealed partial class S3ChunkBackend : IMaintenanceBackendProvider
{
    public IGcBackend CreateGcBackend(DataStore store) => new S3GcBackend(this, store);
    public IVerifyBackend CreateVerifyBackend(DataStore store) => new S3VerifyBackend(this);
}
