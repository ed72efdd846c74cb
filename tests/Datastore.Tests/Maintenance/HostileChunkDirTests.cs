using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Tests.Platform;
using BackupFs.Datastore.Tests.TestSupport;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>
/// Symlinks planted in .chunks (a prefix directory, a chunk file): garbage collection and verify's
/// renames of corrupt chunks never delete or rename anything outside the store. Each test has its own
/// store, since the planted links would disturb other tests' chunks.
/// </summary>
public sealed class HostileChunkDirTests : IDisposable
{
    private static readonly GcOptions CutoffZero = new() { AtimeCutoff = TimeSpan.Zero };
    private readonly TempDir _tmp = new("backupfs-hostile-chunks-");
    private readonly DataStore _store;
    private readonly string _outside;
    private readonly string _before;

    public HostileChunkDirTests()
    {
        _store = DataStore.CreateLocal(_tmp.Sub("ds"));
        _outside = _tmp.Sub("outside");
        OutsideTree.Populate(_outside);
        _before = OutsideTree.Fingerprint(_outside);
    }

    public void Dispose() => _tmp.Dispose();

    private void AssertOutsideUnchanged() => Assert.Equal(_before, OutsideTree.Fingerprint(_outside));

    // A prefix directory replaced by a symlink to a directory holding a file with a chunk's name.
    private void PlantPrefixLink(string prefix)
    {
        var dir = Path.Combine(Chunks(_store).ChunkDir, prefix);
        Directory.Delete(dir, recursive: true);
        File.CreateSymbolicLink(dir, Path.Combine(_outside, "0000"));
    }

    [Fact]
    public async Task GcRefusesASymlinkedPrefixDirectory()
    {
        PlantPrefixLink("0000");
        File.SetLastAccessTimeUtc(Path.Combine(_outside, "0000", new string('0', 64)), DateTime.UtcNow.AddDays(-10));
        var before = OutsideTree.Fingerprint(_outside);

        var e = await Assert.ThrowsAsync<UnsafePathException>(() => new GarbageCollector(_store, CutoffZero with { AtimeSafetyCheck = false }).RunAsync());

        Assert.Contains("symbolic link", e.Message);
        Assert.Equal(before, OutsideTree.Fingerprint(_outside));
    }

    [Fact]
    public async Task GcRefusesASymlinkedChunkDirectoryBeforeWritingAnything()
    {
        var chunkDir = Chunks(_store).ChunkDir;
        Directory.Move(chunkDir, _tmp.Sub("moved-chunks"));
        File.CreateSymbolicLink(chunkDir, _outside);

        var e = await Assert.ThrowsAnyAsync<BackupFs.Datastore.Formats.BackupFsException>(() => new GarbageCollector(_store).RunAsync());

        Assert.Contains("symbolic link", e.Message);
        AssertOutsideUnchanged();
    }

    [Fact]
    public async Task GcLeavesASymlinkedChunkFileAndItsTargetAlone()
    {
        var name = new string('0', 64);
        var link = Path.Combine(Chunks(_store).ChunkDir, "0000", name);
        File.CreateSymbolicLink(link, Path.Combine(_outside, "0000", name));
        File.CreateSymbolicLink(link + ".0.bad", Path.Combine(_outside, "data/secret"));
        File.CreateSymbolicLink(Path.Combine(Chunks(_store).ChunkDir, "0000", name + ".tmp_abc"), Path.Combine(_outside, "data/secret"));

        await new GarbageCollector(_store, CutoffZero with { AtimeSafetyCheck = false }).RunAsync();

        Assert.True(Posix.TryLStat(Posix.PathBytes(link)) is { IsSymlink: true });
        AssertOutsideUnchanged();
    }

    [Fact]
    public async Task VerifyRenamesASymlinkedChunkItselfNeverItsTarget()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/v"), Pseudo(30_000, 5));
        var digest = ChunksOf(_store, snap).First();
        var path = Chunks(_store).ChunkPath(digest);
        File.Delete(path);
        var target = Path.Combine(_outside, "data/secret");
        File.CreateSymbolicLink(path, target);

        var report = await new Verifier(_store).VerifySnapshotAsync(snap);

        Assert.Equal(VerifyOutcome.Failed, report.Snapshots[0].Outcome);
        Assert.True(Posix.TryLStat(Posix.PathBytes(path + ".0.bad")) is { IsSymlink: true });
        AssertOutsideUnchanged();
    }

    [Fact]
    public async Task VerifyNeverRenamesThroughASymlinkedPrefixDirectory()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/v2"), Pseudo(30_000, 6));
        var digest = ChunksOf(_store, snap).First();
        // The outside directory holds a corrupt "chunk" under the digest's name, reached through the link.
        File.WriteAllBytes(Path.Combine(_outside, "0000", digest.ToHex()), new byte[64]);
        var before = OutsideTree.Fingerprint(_outside);
        PlantPrefixLink(digest.Prefix);

        var report = await new Verifier(_store).VerifySnapshotAsync(snap);

        Assert.Equal(VerifyOutcome.Failed, report.Snapshots[0].Outcome);
        Assert.Contains(report.Snapshots[0].Errors, m => m.Contains("symbolic link"));
        Assert.Equal(before, OutsideTree.Fingerprint(_outside));
    }
}
