using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;
using BackupFs.S3.Chunks;
using BackupFs.S3.Client;
using BackupFs.S3.Layout;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

[Collection(S3GatewayCollection.Name)]
public sealed class S3ChunkBackendTests(S3GatewayFixture gw, SharedCacheStore shared) : IClassFixture<SharedCacheStore>
{
    private static readonly S3KeyLayout Layout = new("store1");

    private async Task<(S3ObjectClient Client, S3ChunkBackend Backend, LocalChunkStore Cache, string Bucket)> NewAsync(long capacity = 1000, bool noCache = false)
    {
        var bucket = await gw.NewBucketAsync();
        var client = gw.Client(bucket);
        return (client, new S3ChunkBackend(client, Layout, shared.Root, capacity, noCache), shared.Store, bucket);
    }

    private static int FullFiles(LocalChunkStore cache, IEnumerable<(Digest Digest, byte[] Blob, byte[] Data)> chunks) =>
        chunks.Count(c => cache.StoredSize(c.Digest) > 0);

    [Fact]
    public async Task UploadThenReadHitsTheCache()
    {
        var (client, backend, cache, bucket) = await NewAsync();
        var c = TestChunks.Make(1);
        Assert.False(await backend.ContainsAsync(c.Digest));
        Assert.Equal(ChunkInsertResult.Inserted, await backend.InsertAsync(c.Digest, c.Blob));
        Assert.Contains(Layout.ChunkObjectKey(c.Digest), await gw.KeysAsync(bucket));
        Assert.Equal(c.Blob, cache.TryReadBlob(c.Digest));
        Assert.True(await backend.ContainsAsync(c.Digest));

        var gets = client.Counters.Snapshot().Get;
        Assert.Equal(c.Blob, await backend.ReadBlobAsync(c.Digest));
        Assert.Equal(gets, client.Counters.Snapshot().Get);
        Assert.Equal(1, backend.Stats.Hits);

        // Known locally: a second insert sends nothing.
        var puts = client.Counters.Snapshot().Put;
        Assert.Equal(ChunkInsertResult.AlreadyPresent, await backend.InsertAsync(c.Digest, c.Blob));
        Assert.Equal(puts, client.Counters.Snapshot().Put);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("marker")]
    public async Task ACacheMissOrMarkerFallsBackToTheBucketAndRefillsTheCache(string state)
    {
        var (client, backend, cache, _) = await NewAsync();
        var c = TestChunks.Make(state == "missing" ? 2 : 7);
        await backend.InsertAsync(c.Digest, c.Blob);
        if (state == "missing") cache.Remove(c.Digest); else cache.ReplaceWithMarker(c.Digest);

        var gets = client.Counters.Snapshot().Get;
        Assert.Equal(c.Blob, await backend.ReadBlobAsync(c.Digest));
        Assert.Equal(gets + 1, client.Counters.Snapshot().Get);
        Assert.Equal(c.Blob, cache.TryReadBlob(c.Digest));
        Assert.Equal(1, backend.Stats.Misses);
    }

    [Fact]
    public async Task AChunkAbsentEverywhereReadsAsNull()
    {
        var (_, backend, _, _) = await NewAsync();
        Assert.Null(await backend.ReadBlobAsync(TestChunks.Make(3).Digest));
    }

    [Fact]
    public async Task ACorruptDownloadIsFetchedAgainOnceThenReported()
    {
        var (client, backend, cache, _) = await NewAsync();
        var c = TestChunks.Make(4);
        var other = TestChunks.Make(5);
        // The bucket holds another chunk's bytes under this digest's key.
        await client.PutAsync(Layout.ChunkObjectKey(c.Digest), other.Blob, noReplace: false);

        var gets = client.Counters.Snapshot().Get;
        var e = await Assert.ThrowsAsync<ChunkCorruptException>(() => backend.ReadBlobAsync(c.Digest).AsTask());
        Assert.Equal(c.Digest, e.Digest);
        Assert.Equal(gets + 2, client.Counters.Snapshot().Get);
        Assert.Equal(1, backend.Stats.Refetches);
        Assert.Null(cache.TryReadBlob(c.Digest));   // never cached

        // A bad CRC is caught the same way.
        var broken = (byte[])c.Blob.Clone();
        broken[^1] ^= 0xff;
        await client.PutAsync(Layout.ChunkObjectKey(c.Digest), broken, noReplace: false);
        await Assert.ThrowsAsync<ChunkCorruptException>(() => backend.ReadBlobAsync(c.Digest).AsTask());
    }

    [Fact]
    public async Task ADecodedReadDownloadsOnceCachesTheBlobAndHitsTheCacheAfterwards()
    {
        var (client, backend, cache, _) = await NewAsync();
        var c = TestChunks.Make(30);
        await client.PutAsync(Layout.ChunkObjectKey(c.Digest), c.Blob, noReplace: false);

        var gets = client.Counters.Snapshot().Get;
        var decoded = await backend.ReadDecodedAsync(c.Digest);
        Assert.NotNull(decoded);
        Assert.Equal(c.Data, decoded.Span.ToArray());
        decoded.Release();
        Assert.Equal(gets + 1, client.Counters.Snapshot().Get);
        Assert.Equal(c.Blob, cache.TryReadBlob(c.Digest));

        var again = await backend.ReadDecodedAsync(c.Digest);
        Assert.Equal(c.Data, again!.Span.ToArray());
        again.Release();
        Assert.Equal(gets + 1, client.Counters.Snapshot().Get);
        Assert.Equal(1, backend.Stats.Hits);
        Assert.Null(await backend.ReadDecodedAsync(TestChunks.Make(31).Digest));
    }

    [Fact]
    public async Task ACorruptDownloadReadDecodedIsFetchedAgainOnceThenReported()
    {
        var (client, backend, cache, _) = await NewAsync();
        var c = TestChunks.Make(32);
        await client.PutAsync(Layout.ChunkObjectKey(c.Digest), TestChunks.Make(33).Blob, noReplace: false);

        var gets = client.Counters.Snapshot().Get;
        var e = await Assert.ThrowsAsync<ChunkCorruptException>(() => backend.ReadDecodedAsync(c.Digest).AsTask());
        Assert.Equal(c.Digest, e.Digest);
        Assert.Contains("downloaded twice", e.Message);
        Assert.Equal(gets + 2, client.Counters.Snapshot().Get);
        Assert.Equal(1, backend.Stats.Refetches);
        Assert.Null(cache.TryReadBlob(c.Digest));   // never cached
    }

    [Fact]
    public async Task TheCacheNeverHoldsMoreThanItsCapacity()
    {
        var (client, backend, cache, _) = await NewAsync(capacity: 3);
        var chunks = Enumerable.Range(10, 10).Select(i => TestChunks.Make(i)).ToList();
        foreach (var c in chunks)
        {
            await backend.InsertAsync(c.Digest, c.Blob);
            Assert.True(FullFiles(cache, chunks) <= 3, $"{FullFiles(cache, chunks)} full chunk files");
        }
        Assert.Equal(3, FullFiles(cache, chunks));
        // Evicted chunks are 0-byte markers (known to be in the bucket), like PBS.
        Assert.Equal(0, cache.StoredSize(chunks[0].Digest));
        Assert.True(await backend.ContainsAsync(chunks[0].Digest));
        Assert.Equal(7, backend.Stats.Evictions);

        // Reading evicted chunks downloads them and keeps the bound.
        foreach (var c in chunks.Take(5))
        {
            Assert.Equal(c.Blob, await backend.ReadBlobAsync(c.Digest));
            Assert.True(FullFiles(cache, chunks) <= 3);
        }
        Assert.Equal(5, client.Counters.Snapshot().Get);
    }

    [Fact]
    public async Task ReopeningAdoptsCachedChunksAndTrimsToCapacity()
    {
        using var own = new SharedCacheStore();
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var backend = new S3ChunkBackend(client, Layout, own.Root, 10);
        var chunks = Enumerable.Range(30, 6).Select(i => TestChunks.Make(i)).ToList();
        foreach (var c in chunks) await backend.InsertAsync(c.Digest, c.Blob);
        var reopened = new S3ChunkBackend(client, Layout, own.Root, cacheCapacityChunks: 2);
        Assert.Equal(6, reopened.AdoptCachedChunks());
        Assert.Equal(2, FullFiles(own.Store, chunks));
    }

    [Fact]
    public async Task SixteenConcurrentUploadsOfOneChunkNeverLoseIt()
    {
        var (client, backend, cache, bucket) = await NewAsync();
        var c = TestChunks.Make(40, 256 * 1024);
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => backend.InsertAsync(c.Digest, c.Blob).AsTask())));
        Assert.Equal(1, results.Count(r => r == ChunkInsertResult.Inserted));
        Assert.Equal(1, client.Counters.Snapshot().Put);   // serialised per digest: one upload
        Assert.Equal(c.Blob, cache.TryReadBlob(c.Digest));

        // 16 independent writers without a shared cache race on the bucket: If-None-Match keeps one.
        var d = TestChunks.Make(41, 256 * 1024);
        var writers = Enumerable.Range(0, 16).Select(_ => new S3ChunkBackend(gw.Client(bucket), Layout, null, 1)).ToList();
        var raced = await Task.WhenAll(writers.Select(w => Task.Run(() => w.InsertAsync(d.Digest, d.Blob).AsTask())));
        Assert.Equal(1, raced.Count(r => r == ChunkInsertResult.Inserted));
        cache.Remove(d.Digest);
        Assert.Equal(d.Blob, await backend.ReadBlobAsync(d.Digest));
    }

    [Fact]
    public async Task NoCacheUploadsWriteNothingLocally()
    {
        var (client, _, cache, _) = await NewAsync();
        var noCache = new S3ChunkBackend(client, Layout, shared.Root, 100, noCacheUploads: true);
        var c = TestChunks.Make(50);
        Assert.False(await noCache.ContainsAsync(c.Digest));
        Assert.Equal(ChunkInsertResult.Inserted, await noCache.InsertAsync(c.Digest, c.Blob));
        Assert.Equal(ChunkInsertResult.AlreadyPresent, await noCache.InsertAsync(c.Digest, c.Blob)); // 412
        Assert.Null(cache.TryReadBlob(c.Digest));
        Assert.Equal(2, client.Counters.Snapshot().Put);
    }

    [Fact]
    public async Task ChunkListingParsesKeysAcrossPagesAndWarnsAboutStrays()
    {
        var (client, backend, _, _) = await NewAsync();
        var chunks = Enumerable.Range(60, 7).Select(i => TestChunks.Make(i)).ToList();
        foreach (var c in chunks) await backend.InsertAsync(c.Digest, c.Blob);
        await client.PutAsync(Layout.ChunkPrefix + "0000/not-a-chunk", new byte[1], noReplace: false);
        await client.PutAsync(Layout.BadChunkObjectKey(chunks[0].Digest, 2), chunks[0].Blob, noReplace: false);
        var warnings = new List<string>();
        var listed = new List<S3ChunkObject>();
        await foreach (var o in S3ChunkLister.ListAsync(client, Layout, warnings.Add, pageSize: 3)) listed.Add(o);
        Assert.Equal(8, listed.Count);
        Assert.Equal(chunks.Select(c => c.Digest).Order(), listed.Where(o => o.Chunk.BadIndex == null).Select(o => o.Chunk.Digest).Order());
        Assert.Single(listed, o => o.Chunk.BadIndex == 2);
        Assert.Single(warnings, w => w.Contains("not-a-chunk"));
    }

    [Fact]
    public async Task CorruptChunksAreRenamedWithTheNextFreeCounter()
    {
        var (client, backend, cache, bucket) = await NewAsync();
        var c = TestChunks.Make(70);
        await backend.InsertAsync(c.Digest, c.Blob);
        Assert.Equal(Layout.BadChunkObjectKey(c.Digest, 0), await S3CorruptChunkRenamer.RenameAsync(backend, c.Digest));
        var keys = await gw.KeysAsync(bucket, Layout.ChunkPrefix);
        Assert.DoesNotContain(Layout.ChunkObjectKey(c.Digest), keys);
        Assert.Contains(Layout.BadChunkObjectKey(c.Digest, 0), keys);
        Assert.Equal(c.Blob, await client.GetAsync(Layout.BadChunkObjectKey(c.Digest, 0)));
        Assert.True(File.Exists(cache.ChunkPath(c.Digest) + ".0.bad"));
        Assert.Null(cache.TryReadBlob(c.Digest));

        // Uploaded again (a later backup) and found corrupt again: .1.bad.
        Assert.Equal(ChunkInsertResult.Inserted, await backend.InsertAsync(c.Digest, c.Blob));
        Assert.Equal(Layout.BadChunkObjectKey(c.Digest, 1), await S3CorruptChunkRenamer.RenameAsync(backend, c.Digest));
        Assert.Null(await S3CorruptChunkRenamer.RenameAsync(backend, c.Digest));   // nothing left to rename
    }
}
