using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.S3.Following;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

/// <summary>
/// A reader's local copy follows the bucket (real gateway) while a writer backs up, prunes,
/// protects and changes owners: one LIST per directory per time-to-live, new snapshots appear
/// once finished, removed ones vanish, snapshot files come when first opened, nothing is written.
/// </summary>
[Collection(S3GatewayCollection.Name)]
public sealed class S3MetadataFollowerTests(S3GatewayFixture gw) : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private sealed record Pair(S3Datastore Writer, S3Datastore Reader, DataStore WriterStore, DataStore ReaderStore) : IDisposable
    {
        public void Dispose() { Writer.Dispose(); Reader.Dispose(); }
    }

    private async Task<Pair> OpenPairAsync(string? readerEndpoint = null)
    {
        var bucket = await gw.NewBucketAsync();
        S3Datastore.Init(_tmp.Sub("writer"), gw.Config(bucket), gw.Credentials);
        S3Datastore.Init(_tmp.Sub("reader"), gw.Config(bucket, readerEndpoint, attempts: 1) with { Reader = true }, gw.Credentials);
        var options = new S3OpenOptions { AdoptCachedChunks = false, RetryBaseDelay = TimeSpan.FromMilliseconds(20) };
        var writer = S3Datastore.Open(_tmp.Sub("writer"), options);
        var reader = S3Datastore.Open(_tmp.Sub("reader"), options);
        return new Pair(writer, reader, writer.ToDataStore(), reader.ToDataStore());
    }

    private static async Task<SnapshotRef> BackupAsync(DataStore store, BackupGroup group, long time, byte[] data)
    {
        await using var writer = await BackupStarter.BeginAsync(store, group, new BackupOptions { BackupTime = time });
        var archive = writer.CreateDynamicArchive("data.img.didx", 64 * 1024);
        archive.Write(data);
        await writer.CloseArchiveAsync(archive);
        await writer.AddBlobAsync("info.conf.blob", "a: 1\n"u8.ToArray());
        await writer.FinishAsync();
        return writer.Snapshot;
    }

    private static S3MetadataFollower Follower(Pair p, TimeSpan ttl) =>
        new(p.Reader.Client, p.Reader.Layout, p.Reader.CacheRoot, ttl, _ => { });

    private static async Task WalkAsync(S3MetadataFollower f, BackupGroup group)
    {
        await f.RefreshAsync(FollowedDirectory.Namespace, group.Namespace.RelativePath, default);
        await f.RefreshAsync(FollowedDirectory.Type, BackupGroupJoin(group.Namespace.RelativePath, group.Type.ToName()), default);
        await f.RefreshAsync(FollowedDirectory.Group, group.RelativePath, default);
    }

    private static string BackupGroupJoin(string a, string b) => a.Length == 0 ? b : a + "/" + b;

    [Fact]
    public async Task NewSnapshotsAppearRemovedOnesVanishAndMarkersFollow()
    {
        using var p = await OpenPairAsync();
        var group = BackupGroup.Parse("vm/100");
        var data = new byte[300_000];
        new Random(1).NextBytes(data);
        var first = await BackupAsync(p.WriterStore, group, 1_700_000_000, data);
        var f = Follower(p, TimeSpan.Zero);
        var writesBefore = p.Reader.Client.Counters.Snapshot();

        await WalkAsync(f, group);
        Assert.Equal([first], p.ReaderStore.ListFinishedSnapshots(group));
        Assert.Equal("root@pam", p.ReaderStore.GetOwner(group));
        // Indexes and blobs come when the snapshot is opened; then it reads like the writer's.
        Assert.False(File.Exists(Path.Combine(p.ReaderStore.FullPath(first.RelativePath), "data.img.didx")));
        await f.EnsureSnapshotFilesAsync(first, default);
        using (var chunks = new CachedChunkSource(new DecodingChunkSource(p.ReaderStore.Chunks), 8 << 20))
        {
            var reader = SnapshotReader.Open(p.ReaderStore, first, chunks);
            var source = reader.OpenArchive("data.img.didx");
            var back = new byte[data.Length];
            int read = 0;
            while (read < back.Length) read += await source.ReadAtAsync(read, back.AsMemory(read));
            Assert.Equal(data, back);
        }

        var second = await BackupAsync(p.WriterStore, group, 1_700_000_100, data);
        await SnapshotProtection.SetAsync(p.WriterStore, first, true);
        await GroupOwnership.SetAsync(p.WriterStore, group, "other@pbs");
        var changes = await f.RefreshAsync(FollowedDirectory.Group, group.RelativePath, default);
        Assert.Equal([second.TimeName], changes.Added);
        Assert.Equal([first, second], p.ReaderStore.ListFinishedSnapshots(group));
        Assert.True(p.ReaderStore.GetSnapshotInfo(first).Protected);
        Assert.Equal("other@pbs", p.ReaderStore.GetOwner(group));

        await SnapshotProtection.SetAsync(p.WriterStore, first, false);
        await new Pruner(p.WriterStore).ForgetAsync(first);
        await Task.Delay(LocalCopyRulesSlack); // the reader's copy was written before this listing starts
        changes = await f.RefreshAsync(FollowedDirectory.Group, group.RelativePath, default);
        Assert.Equal([first.TimeName], changes.Removed);
        Assert.Equal([second], p.ReaderStore.ListFinishedSnapshots(group));
        Assert.False(Directory.Exists(p.ReaderStore.FullPath(first.RelativePath)));

        // The whole group goes (PBS removes the owner object with the last snapshot): the type listing removes it.
        await new Pruner(p.WriterStore).ForgetAsync(second);
        using (var admin = gw.Client(p.Writer.Config.Bucket)) await admin.DeleteAsync("store1/.cnt/vm/100/owner");
        await Task.Delay(LocalCopyRulesSlack);
        changes = await f.RefreshAsync(FollowedDirectory.Type, "vm", default);
        Assert.Equal(["100"], changes.Removed);
        Assert.False(p.ReaderStore.GroupExists(group));

        var sent = p.Reader.Client.Counters.Snapshot() - writesBefore;
        Assert.Equal(0, sent.Put + sent.Delete + sent.Copy);
        Assert.Equal(0, f.Stats.Writes);
    }

    private static readonly TimeSpan LocalCopyRulesSlack = TimeSpan.FromSeconds(2.2);

    [Fact]
    public async Task OneListPerDirectoryPerTimeToLiveEvenUnderConcurrentLookups()
    {
        using var p = await OpenPairAsync();
        var ns = BackupNamespace.Parse("team");
        await p.WriterStore.CreateNamespaceAsync(ns);
        var group = BackupGroup.Parse("host/h", ns);
        await BackupAsync(p.WriterStore, group, 1_700_000_000, new byte[1000]);
        var f = Follower(p, TimeSpan.FromSeconds(2));

        await f.RefreshAsync(FollowedDirectory.Namespace, "", default);
        await f.RefreshAsync(FollowedDirectory.NamespaceList, "ns", default);
        Assert.True(p.ReaderStore.NamespaceExists(ns));
        long lists = f.Stats.Lists;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => f.RefreshAsync(FollowedDirectory.Group, group.RelativePath, default).AsTask()));
        Assert.Equal(lists + 1, f.Stats.Lists);
        await f.RefreshAsync(FollowedDirectory.Group, group.RelativePath, default);
        await f.RefreshAsync(FollowedDirectory.Namespace, "", default);
        Assert.Equal(lists + 1, f.Stats.Lists); // within the time-to-live: no request
        await Task.Delay(2100);
        await f.RefreshAsync(FollowedDirectory.Group, group.RelativePath, default);
        Assert.Equal(lists + 2, f.Stats.Lists);
        Assert.Single(p.ReaderStore.ListFinishedSnapshots(group));
    }

    [Fact]
    public async Task ListingsWithThousandsOfEntriesFollowContinuationTokens()
    {
        using var p = await OpenPairAsync();
        // 1100 groups' owner objects, written directly as a PBS writer would: two LIST pages.
        using var admin = gw.Client(p.Writer.Config.Bucket);
        await Parallel.ForEachAsync(Enumerable.Range(0, 1100), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, ct) => await admin.PutAsync($"store1/.cnt/ct/{i}/owner", "root@pam\n"u8.ToArray(), false, ct));
        var f = Follower(p, TimeSpan.Zero);
        await f.RefreshAsync(FollowedDirectory.Namespace, "", default);
        var changes = await f.RefreshAsync(FollowedDirectory.Type, "ct", default);
        Assert.Equal(1100, changes.Added.Count);
        Assert.Equal(1100, p.ReaderStore.ListGroups(BackupNamespace.Root).Count());
    }

    [Fact]
    public async Task AGatewayOutageFailsThatListingOnlyAndTheNextOneWorks()
    {
        using var proxy = new TcpFaultProxy(new Uri(gw.Endpoint));
        using var p = await OpenPairAsync(proxy.Endpoint);
        var group = BackupGroup.Parse("ct/5");
        await BackupAsync(p.WriterStore, group, 1_700_000_000, new byte[1000]);
        var f = Follower(p, TimeSpan.FromHours(1));
        await f.RefreshAsync(FollowedDirectory.Namespace, "", default);

        proxy.Down = true;
        await Assert.ThrowsAnyAsync<BackupFsException>(() => f.RefreshAsync(FollowedDirectory.Type, "ct", default).AsTask());
        Assert.Equal(1, f.Stats.Failures);
        proxy.Down = false;
        // The outage opened the client's circuit breaker: wait for its probe to close it (bounded).
        var until = DateTime.UtcNow.AddSeconds(20);
        while (p.Reader.Client.Breaker is { IsOpen: true } && DateTime.UtcNow < until) await Task.Delay(100);
        // A failed listing is not cached: the next look lists again, despite the long time-to-live.
        await f.RefreshAsync(FollowedDirectory.Type, "ct", default);
        await f.RefreshAsync(FollowedDirectory.Group, group.RelativePath, default);
        Assert.Single(p.ReaderStore.ListFinishedSnapshots(group));
    }
}
