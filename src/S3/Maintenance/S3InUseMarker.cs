using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Formats;
using BackupFs.S3.Client;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Maintenance;

/// <summary>
/// "&lt;store&gt;/.in-use" = {"hostname":"&lt;node&gt;"} (PBS): claims a datastore prefix in a bucket at
/// creation so a second server does not silently write into the same store.
/// </summary>
public static class S3InUseMarker
{
    public const string Name = ".in-use";

    public static string Key(S3KeyLayout layout) => layout.StorePrefix + Name;

    /// <summary>The host that claimed the store, or null when unclaimed.</summary>
    public static async Task<string?> ReadOwnerAsync(S3ObjectClient client, S3KeyLayout layout, CancellationToken ct = default)
    {
        var data = await client.GetAsync(Key(layout), ct).ConfigureAwait(false);
        if (data == null) return null;
        try
        {
            using var doc = JsonDocument.Parse(data);
            return doc.RootElement.TryGetProperty("hostname", out var h) ? h.GetString() ?? "?" : "?";
        }
        catch (JsonException) { return "?"; }
    }

    /// <summary>Claims the store for this host.</summary>
    /// <exception cref="BackendException">already claimed and <paramref name="overwrite"/> is false</exception>
    public static async Task ClaimAsync(S3ObjectClient client, S3KeyLayout layout, bool overwrite, CancellationToken ct = default)
    {
        var body = Encoding.UTF8.GetBytes(new JsonObject { ["hostname"] = Environment.MachineName }.ToJsonString());
        if (await client.PutAsync(Key(layout), body, noReplace: !overwrite, ct).ConfigureAwait(false)) return;
        var owner = await ReadOwnerAsync(client, layout, ct).ConfigureAwait(false);
        throw new BackendException($"datastore '{layout.StoreName}' in bucket '{client.Bucket}' is already in use by host '{owner}' (reuse it with an s3 refresh, or overwrite the claim explicitly)");
    }
}
