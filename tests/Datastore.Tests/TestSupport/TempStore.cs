using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Tests.TestSupport;

/// <summary>
/// A local datastore (Dir/ds) in a temporary directory removed on dispose. Creating one makes 65536
/// chunk directories, so classes whose tests do not disturb each other share one (IClassFixture).
/// </summary>
public sealed class TempStore : IDisposable
{
    public TempDir Dir { get; }
    public DataStore Store { get; }

    public TempStore()
    {
        Dir = new TempDir("backupfs-store-");
        Store = DataStore.CreateLocal(Dir.Sub("ds"));
    }

    public void Dispose() => Dir.Dispose();
}
