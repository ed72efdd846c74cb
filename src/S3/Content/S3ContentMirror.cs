using BackupFs.Datastore.Store;
using BackupFs.S3.Client;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Content;

/// <summary>
/// Persists snapshot metadata (indexes, blobs, manifests, owner, notes, markers) to
/// "&lt;store&gt;/.cnt/&lt;path&gt;". Paths are validated with the datastore naming rules before any
/// request. No-replace puts use If-None-Match: * (an existing object is left alone).
/// Deleting a directory appends '/' so "vm/100" never matches "vm/1000".
/// </summary>
public sealed class S3ContentMirror : IContentMirror
{
    private readonly S3ObjectClient _client;
    private readonly S3KeyLayout _layout;

    public S3ContentMirror(S3ObjectClient client, S3KeyLayout layout)
    {
        _client = client;
        _layout = layout;
    }

    public async ValueTask PutAsync(string relativePath, ReadOnlyMemory<byte> data, bool noReplace, CancellationToken ct = default) =>
        await _client.PutAsync(_layout.ContentObjectKey(relativePath), data, noReplace, ct).ConfigureAwait(false);

    public async ValueTask DeleteAsync(string relativePath, CancellationToken ct = default) =>
        await _client.DeleteAsync(_layout.ContentObjectKey(relativePath), ct).ConfigureAwait(false);

    public async ValueTask DeletePrefixAsync(string relativeDirectory, CancellationToken ct = default) =>
        await _client.DeletePrefixAsync(_layout.ContentDirectoryPrefix(relativeDirectory), ct).ConfigureAwait(false);

    /// <summary>The object's bytes, or null when absent (for tools that compare bucket and cache).</summary>
    public Task<byte[]?> GetAsync(string relativePath, CancellationToken ct = default) =>
        _client.GetAsync(_layout.ContentObjectKey(relativePath), ct);
}
