using System.Diagnostics;
using BackupFs.S3.Client;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Maintenance;

public readonly record struct S3CheckResult(bool Ok, string Message);

/// <summary>
/// `backupfs s3 check`: reaches the endpoint, checks the bucket and the credentials, lists the
/// datastore's prefix and (optionally) writes and deletes a probe object. One clear line either way.
/// </summary>
public static class S3ConnectionCheck
{
    public static async Task<S3CheckResult> RunAsync(S3ObjectClient client, S3KeyLayout layout, bool writeProbe = true, CancellationToken ct = default)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            await client.HeadBucketAsync(ct).ConfigureAwait(false);
            await using (var e = client.ListAsync(layout.StorePrefix, pageSize: 1, ct).GetAsyncEnumerator(ct))
                await e.MoveNextAsync().ConfigureAwait(false);
            if (writeProbe)
            {
                // Outside .chunks/ and .cnt/, so neither GC nor refresh ever sees it.
                var probe = layout.StorePrefix + ".backupfs-check-" + Guid.NewGuid().ToString("N")[..12];
                await client.PutAsync(probe, "check"u8.ToArray(), noReplace: false, ct).ConfigureAwait(false);
                await client.DeleteAsync(probe, ct).ConfigureAwait(false);
            }
            return new S3CheckResult(true,
                $"OK: bucket '{client.Bucket}' at {client.Endpoint} is reachable and {(writeProbe ? "readable and writable" : "readable")} for datastore '{layout.StoreName}' ({sw.ElapsedMilliseconds} ms)");
        }
        catch (S3RequestException e)
        {
            return new S3CheckResult(false, e.Message);
        }
    }
}
