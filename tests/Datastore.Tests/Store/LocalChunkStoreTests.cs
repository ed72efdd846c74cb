using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Store;

public class LocalChunkStoreTests
{
    [Fact]
    public void CreateMakesAllPrefixDirectories()
    {
        using var tmp = new TempDir();
        var store = LocalChunkStore.Create(tmp.Sub("ds"));
        Assert.Equal(65536, Directory.GetDirectories(store.ChunkDir).Length);
        Assert.True(Directory.Exists(Path.Combine(store.ChunkDir, "ffff")));
    }

    [Fact]
    public async Task InsertIsIdempotentAndReadable()
    {
        using var tmp = new TempDir();
        var store = LocalChunkStore.Create(tmp.Sub("ds"));
        var data = System.Text.Encoding.UTF8.GetBytes("hello chunk");
        var digest = Digest.Compute(data);
        var blob = DataBlob.Encode(data);

        Assert.False(await store.ContainsAsync(digest));
        Assert.Equal(ChunkInsertResult.Inserted, await store.InsertAsync(digest, blob));
        Assert.Equal(ChunkInsertResult.AlreadyPresent, await store.InsertAsync(digest, blob));
        Assert.True(await store.ContainsAsync(digest));
        Assert.Equal(Path.Combine(store.ChunkDir, digest.Prefix, digest.ToHex()), store.ChunkPath(digest));
        Assert.Equal(data, DataBlob.DecodeChunk(digest, (await store.ReadBlobAsync(digest))!));
        Assert.Empty(Directory.GetFiles(Path.Combine(store.ChunkDir, digest.Prefix), "*.tmp_*"));
    }

    [Fact]
    public void ExistingChunkIsNotRewrittenButTouched()
    {
        using var tmp = new TempDir();
        var store = LocalChunkStore.Create(tmp.Sub("ds"));
        var data = new byte[1000];
        var digest = Digest.Compute(data);
        store.Insert(digest, DataBlob.Encode(data));
        var path = store.ChunkPath(digest);
        var old = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastAccessTimeUtc(path, old);
        File.SetLastWriteTimeUtc(path, old);

        Assert.Equal(ChunkInsertResult.AlreadyPresent, store.Insert(digest, DataBlob.Encode(data, compress: false)));
        Assert.Equal(old, File.GetLastWriteTimeUtc(path));           // not rewritten
        Assert.True(File.GetLastAccessTimeUtc(path) > old.AddYears(1)); // atime touched for GC
    }

    [Fact]
    public async Task MarkerIsReplacedAndNotReadable()
    {
        using var tmp = new TempDir();
        var store = LocalChunkStore.Create(tmp.Sub("ds"));
        var data = new byte[] { 1, 2, 3 };
        var digest = Digest.Compute(data);
        store.Insert(digest, DataBlob.Encode(data));
        store.ReplaceWithMarker(digest);
        Assert.Equal(0, store.StoredSize(digest));
        Assert.Null(await store.ReadBlobAsync(digest));
        Assert.False(await store.ContainsAsync(digest));
        Assert.Equal(ChunkInsertResult.Inserted, store.Insert(digest, DataBlob.Encode(data)));
    }

    [Fact]
    public void CorruptChunksAreRenamedWithNextFreeCounter()
    {
        using var tmp = new TempDir();
        var store = LocalChunkStore.Create(tmp.Sub("ds"));
        var data = new byte[] { 9 };
        var digest = Digest.Compute(data);
        store.Insert(digest, DataBlob.Encode(data));
        Assert.EndsWith($"{digest}.0.bad", store.RenameCorrupt(digest));
        store.Insert(digest, DataBlob.Encode(data));
        Assert.EndsWith($"{digest}.1.bad", store.RenameCorrupt(digest));
        Assert.Null(store.RenameCorrupt(digest));
    }

    [Fact]
    public void OpeningANonDatastoreFailsClearly()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<BackupFsException>(() => new LocalChunkStore(tmp.Path));
        Assert.Contains("not a datastore", e.Message);
    }
}
