using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// Implemented by a chunk backend that is not a plain local chunk store (the S3 backend in
/// BackupFs.S3), so GC and verify pick the right backend for a store without the caller knowing.
/// </summary>
public interface IMaintenanceBackendProvider
{
    IGcBackend CreateGcBackend(DataStore store);
    IVerifyBackend CreateVerifyBackend(DataStore store);
}

/// <summary>Chooses the GC and verify backends for a datastore from its chunk backend.</summary>
public static class MaintenanceBackends
{
    public static IGcBackend ForGc(DataStore store) => store.Chunks switch
    {
        IMaintenanceBackendProvider provider => provider.CreateGcBackend(store),
        LocalChunkStore local => new LocalGcBackend(local),
        var other => throw new BackupFsException($"garbage collection does not support the chunk backend {other.GetType().Name} of datastore {store.Name}"),
    };

    public static IVerifyBackend ForVerify(DataStore store) => store.Chunks switch
    {
        IMaintenanceBackendProvider provider => provider.CreateVerifyBackend(store),
        LocalChunkStore local => new LocalVerifyBackend(local),
        var other => throw new BackupFsException($"verify does not support the chunk backend {other.GetType().Name} of datastore {store.Name}"),
    };
}
