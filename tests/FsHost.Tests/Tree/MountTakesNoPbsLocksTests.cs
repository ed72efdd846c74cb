using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.Locking;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>
/// A read-only mount of a local datastore on a (simulated) PBS host takes none of PBS's locks:
/// while a file of a snapshot is open, PBS could still back up into the group, remove the snapshot,
/// and run GC.
/// </summary>
[Collection(PbsHostEnvironment.Name)]
public sealed class MountTakesNoPbsLocksTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [FuseFact]
    public async Task PbsCanBackUpPruneAndCollectWhileASnapshotIsReadThroughTheMount()
    {
        if (!FuseEnvironment.Usable(output)) return;
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "f.bin"), new byte[200_000]);
        await CliRunner.RunOkAsync("init", store);
        var snapshot = (await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "h")).Trim();
        using var pbs = new PbsStyleLocks(_tmp.Path);
        using var mount = new DatastoreMount(DataStore.OpenLocal(store));
        using var open = Bounded.Io(() => File.OpenRead(mount.PathOf(snapshot + "/root.pxar/f.bin")));
        Assert.Equal(200_000, Bounded.Io(() => open.Read(new byte[300_000], 0, 300_000)));

        using (var gc = pbs.TryProcessLock(store, write: true)) Assert.NotNull(gc);
        using (var group = pbs.TryGroupLock(store, "ds", "", "host/h")) Assert.NotNull(group);
        using (var remove = pbs.TrySnapshotLock(store, "ds", "", snapshot, exclusive: true)) Assert.NotNull(remove);
    }
}
