using BackupFs.Datastore.Tests.TestSupport;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Writing;
using static BackupFs.Datastore.Tests.Maintenance.MaintenanceTestData;

namespace BackupFs.Datastore.Tests.Maintenance;

public class VerifierTests : IClassFixture<TempStore>
{
    // PBS's PROXMOX_UPID_REGEX (proxmox-schema upid.rs).
    private static readonly Regex UpidRegex = new(
        @"^UPID:(?<node>[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):(?<pid>[0-9A-Fa-f]{8}):(?<pstart>[0-9A-Fa-f]{8,9}):(?<task_id>[0-9A-Fa-f]{8,16}):(?<starttime>[0-9A-Fa-f]{8}):(?<wtype>[^:\s]+):(?<wid>[^:\s]*):(?<authid>[^:\s]+):$");

    private readonly DataStore _store;

    public VerifierTests(TempStore fixture) => _store = fixture.Store;

    private BackupManifest Manifest(SnapshotRef snap) =>
        BackupManifest.FromBlob(File.ReadAllBytes(Path.Combine(_store.FullPath(snap.RelativePath), DataStore.ManifestName)));

    private static string? VerifyState(BackupManifest m) => m.Unprotected["verify_state"]?["state"]?.GetValue<string>();

    [Fact]
    public async Task AGoodSnapshotIsOkAndTheStateIsRecordedInTheManifest()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/verify-ok"), Pseudo(400_000, 1));
        var before = Manifest(snap);

        var report = await new Verifier(_store).VerifySnapshotAsync(snap);

        var result = Assert.Single(report.Snapshots);
        Assert.Equal(VerifyOutcome.Ok, result.Outcome);
        Assert.True(result.StateRecorded);
        Assert.Equal(ChunksOf(_store, snap).Count, result.Chunks);
        Assert.Empty(result.Errors);
        var after = Manifest(snap);
        Assert.Equal("ok", VerifyState(after));
        Assert.Equal(report.Upid, after.Unprotected["verify_state"]!["upid"]!.GetValue<string>());
        Assert.Matches(UpidRegex, report.Upid);
        Assert.Equal(before.Files.Select(f => f.CsumHex), after.Files.Select(f => f.CsumHex));
        Assert.NotNull(after.Unprotected["chunk_upload_stats"]);
        // The snapshot still reads: the new manifest matches the indexes.
        SnapshotReader.Open(_store, snap, new DecodingChunkSource(_store.Chunks)).OpenIndex("root.pxar.didx");
    }

    [Fact]
    public async Task ACorruptChunkIsRenamedTheSnapshotFailsAndTheNextBackupStoresAGoodCopy()
    {
        var group = BackupGroup.Parse("host/verify-corrupt");
        var data = Pseudo(400_000, 2);
        var snap = await BackupAsync(_store, group, data);
        var victim = ChunksOf(_store, snap).Order().First();
        var path = Chunks(_store).ChunkPath(victim);
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x5a;
        File.WriteAllBytes(path, bytes);

        var report = await new Verifier(_store).VerifySnapshotAsync(snap);

        var result = Assert.Single(report.Snapshots);
        Assert.Equal(VerifyOutcome.Failed, result.Outcome);
        Assert.Equal(1, result.CorruptChunks);
        Assert.Equal(0, result.MissingChunks);
        Assert.Contains(result.Errors, e => e.StartsWith("root.pxar.didx: 1 corrupt"));
        Assert.False(File.Exists(path));
        Assert.True(File.Exists(path + ".0.bad"));
        Assert.Equal(new RenamedChunk(victim, path + ".0.bad"), Assert.Single(report.RenamedChunks));
        Assert.Equal("failed", VerifyState(Manifest(snap)));

        // A new backup of the same data finds the chunk absent and stores it again.
        var again = await BackupAsync(_store, group, data);
        Assert.True(File.Exists(path));
        Assert.NotEmpty(DataBlob.DecodeChunk(victim, File.ReadAllBytes(path))); // throws unless the content matches the digest
        var reverify = await new Verifier(_store).VerifySnapshotsAsync([snap, again]);
        Assert.All(reverify.Snapshots, s => Assert.Equal(VerifyOutcome.Ok, s.Outcome));
        Assert.Equal("ok", VerifyState(Manifest(snap)));
    }

    [Fact]
    public async Task AMissingChunkIsReported()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/verify-missing"), Pseudo(300_000, 3));
        var victim = ChunksOf(_store, snap).First();
        File.Delete(Chunks(_store).ChunkPath(victim));

        var result = Assert.Single((await new Verifier(_store).VerifySnapshotAsync(snap)).Snapshots);

        Assert.Equal(VerifyOutcome.Failed, result.Outcome);
        Assert.Equal(1, result.MissingChunks);
        Assert.Equal(0, result.CorruptChunks);
        Assert.Contains(result.Errors, e => e.Contains("1 missing"));
        Assert.Equal("failed", VerifyState(Manifest(snap)));
    }

    [Fact]
    public async Task MalformedIndexOrManifestFailsThatSnapshotOnly()
    {
        var group = BackupGroup.Parse("host/verify-malformed");
        var badIndex = await BackupAsync(_store, group, Pseudo(100_000, 4));
        var badManifest = await BackupAsync(_store, group, Pseudo(100_000, 5));
        var good = await BackupAsync(_store, group, Pseudo(100_000, 6));
        File.WriteAllBytes(Path.Combine(_store.FullPath(badIndex.RelativePath), "root.pxar.didx"), new byte[4200]);
        File.WriteAllBytes(Path.Combine(_store.FullPath(badManifest.RelativePath), DataStore.ManifestName), "not a blob"u8.ToArray());

        var report = await new Verifier(_store).VerifySnapshotsAsync([badIndex, badManifest, good]);

        Assert.Equal(new[] { VerifyOutcome.Failed, VerifyOutcome.Failed, VerifyOutcome.Ok }, report.Snapshots.Select(s => s.Outcome));
        Assert.Contains(report.Snapshots[0].Errors, e => e.StartsWith("root.pxar.didx: "));
        Assert.Equal("failed", VerifyState(Manifest(badIndex)));
        Assert.False(report.Snapshots[1].StateRecorded);
        Assert.Contains(report.Snapshots[1].Errors, e => e.StartsWith("index.json.blob: "));
        Assert.Equal(2, report.FailedCount);
    }

    [Fact]
    public async Task AChangedBlobFailsTheSnapshot()
    {
        var snap = await BackupAsync(_store, BackupGroup.Parse("host/verify-blob"), Pseudo(50_000, 7));
        File.WriteAllBytes(Path.Combine(_store.FullPath(snap.RelativePath), "client.conf.blob"), DataBlob.Encode("x: 2\n"u8));
        var result = Assert.Single((await new Verifier(_store).VerifySnapshotAsync(snap)).Snapshots);
        Assert.Equal(VerifyOutcome.Failed, result.Outcome);
        Assert.Contains(result.Errors, e => e.StartsWith("client.conf.blob: checksum"));
    }

    [Fact]
    public async Task EachChunkIsCheckedOncePerRunAndUnfinishedSnapshotsAreSkipped()
    {
        var group = BackupGroup.Parse("host/verify-once");
        var data = Pseudo(300_000, 8);
        var first = await BackupAsync(_store, group, data);
        var second = await BackupAsync(_store, group, data);
        var reports = new List<MaintenanceProgress>();

        await using var running = await BackupStarter.BeginAsync(_store, group, new BackupOptions { BackupTime = NextTime() });
        var report = await new Verifier(_store, new VerifyOptions { Progress = new SynchronousProgress<MaintenanceProgress>(reports.Add) })
            .VerifySnapshotsAsync([first, second, running.Snapshot]);

        int chunks = ChunksOf(_store, first).Count;
        Assert.Equal(chunks, report.DistinctChunksChecked);
        Assert.Equal(new[] { VerifyOutcome.Ok, VerifyOutcome.Ok, VerifyOutcome.Skipped }, report.Snapshots.Select(s => s.Outcome));
        Assert.Contains("locked", report.Snapshots[2].Errors[0]); // a running backup holds its snapshot lock, as in PBS
        var last = reports.Last();
        Assert.True(last.Completed);
        Assert.Equal(last.TotalItems, last.Items);
        Assert.Equal(data.Length, last.Bytes);
    }
}
