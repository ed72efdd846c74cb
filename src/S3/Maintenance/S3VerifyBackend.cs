using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;
using BackupFs.S3.Chunks;

namespace BackupFs.S3.Maintenance;

/// <summary>
/// Verify on an S3 datastore: chunks are read from the bucket itself (never the local cache), and
/// a corrupt one is renamed to "&lt;hex&gt;.&lt;n&gt;.bad" in the bucket (CopyObject + Delete) and in the
/// cache, so the next backup of that data uploads a good copy.
/// </summary>
public sealed class S3VerifyBackend : IVerifyBackend
{
    private readonly S3ChunkBackend _chunks;

    public S3VerifyBackend(S3ChunkBackend chunks)
    {
        _chunks = chunks;
        UncachedChunks = new BucketOnly(chunks);
    }

    public IChunkBackend UncachedChunks { get; }

    public async ValueTask<string?> RenameCorruptAsync(Digest digest, CancellationToken ct) =>
        await S3CorruptChunkRenamer.RenameAsync(_chunks, digest, ct).ConfigureAwait(false);

    /// <summary>GETs straight from the bucket; writing is not verify's business.</summary>
    private sealed class BucketOnly(S3ChunkBackend chunks) : IChunkBackend
    {
        public async ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) =>
            await chunks.Client.GetAsync(chunks.Layout.ChunkObjectKey(digest), ct).ConfigureAwait(false);
        public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default) => ValueTask.FromResult(false);
        public ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default) =>
            throw new InvalidOperationException("verify does not write chunks");
    }
}
