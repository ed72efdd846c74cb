namespace BackupFs.Datastore.Store;

/// <summary>
/// Where snapshot metadata (indexes, blobs, manifests, owner files, markers) is persisted besides
/// the local datastore directory. Paths are datastore-relative with '/' separators, e.g.
/// "ns/a/vm/100/2025-07-14T14:20:02Z/index.json.blob". A local datastore mirrors nowhere; an
/// S3 datastore uploads to "&lt;store&gt;/.cnt/&lt;path&gt;".
/// </summary>
public interface IContentMirror
{
    ValueTask PutAsync(string relativePath, ReadOnlyMemory<byte> data, bool noReplace, CancellationToken ct = default);
    ValueTask DeleteAsync(string relativePath, CancellationToken ct = default);
    /// <summary>Deletes everything below a directory (the implementation appends the '/').</summary>
    ValueTask DeletePrefixAsync(string relativeDirectory, CancellationToken ct = default);
}

/// <summary>The local datastore: the directory itself is the only copy.</summary>
public sealed class NoContentMirror : IContentMirror
{
    public static readonly NoContentMirror Instance = new();
    public ValueTask PutAsync(string relativePath, ReadOnlyMemory<byte> data, bool noReplace, CancellationToken ct = default) => ValueTask.CompletedTask;
    public ValueTask DeleteAsync(string relativePath, CancellationToken ct = default) => ValueTask.CompletedTask;
    public ValueTask DeletePrefixAsync(string relativeDirectory, CancellationToken ct = default) => ValueTask.CompletedTask;
}
