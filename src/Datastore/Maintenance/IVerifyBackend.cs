using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// The seam between <see cref="Verifier"/> and where chunks live.
/// <para><b>Local datastore</b> (<see cref="LocalVerifyBackend"/>): reads the chunk files;
/// renames a corrupt one to "&lt;hex&gt;.&lt;n&gt;.bad" (LocalChunkStore.RenameCorrupt).</para>
/// <para><b>S3 datastore</b> (to be implemented in BackupFs.S3, formats.md §7.8):
/// <see cref="UncachedChunks"/> GETs "&lt;store&gt;/.chunks/&lt;xxxx&gt;/&lt;hex&gt;" from the bucket, never
/// the local cache (null on 404; a BackendException on any other failure, which verify reports as a
/// read error without renaming anything). <see cref="RenameCorruptAsync"/> copies the object to
/// "….&lt;n&gt;.bad" (CopyObject, first free n in 0..9), deletes the original, and drops the chunk
/// from the local cache (renaming a cached copy the same way), so the next backup of the data
/// uploads a good chunk and readers get it from the bucket.</para>
/// </summary>
public interface IVerifyBackend
{
    /// <summary>Encoded chunks straight from where they are stored, bypassing every cache.</summary>
    IChunkBackend UncachedChunks { get; }

    /// <summary>Moves a corrupt chunk aside; returns where it went (for the report), or null when it was not there.</summary>
    ValueTask<string?> RenameCorruptAsync(Digest digest, CancellationToken ct);
}

/// <summary>Verify over a local datastore directory.</summary>
public sealed class LocalVerifyBackend : IVerifyBackend
{
    private readonly LocalChunkStore _chunks;

    public LocalVerifyBackend(LocalChunkStore chunks) => _chunks = chunks;

    public IChunkBackend UncachedChunks => _chunks;

    public ValueTask<string?> RenameCorruptAsync(Digest digest, CancellationToken ct) =>
        ValueTask.FromResult(_chunks.RenameCorrupt(digest));
}
