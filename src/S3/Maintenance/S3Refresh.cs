using BackupFs.S3.Client;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Maintenance;

public readonly record struct S3RefreshResult(int Files, int Namespaces, int Ignored);

/// <summary>
/// s3-refresh: rebuilds the local cache's metadata (namespaces, groups, owners, notes, snapshots,
/// indexes, manifests, protected markers) from the bucket. Every content key is validated with
/// the datastore naming rules (others are ignored with a warning, never followed); objects are
/// downloaded into a temporary directory, then the vm/ct/host/ns trees are swapped in. The
/// datastore is in maintenance mode "s3-refresh" meanwhile. Chunks are not downloaded.
/// </summary>
public static class S3Refresh
{
    public const string MaintenanceMode = "s3-refresh";
    private static readonly string[] Trees = ["vm", "ct", "host", "ns"];

    public static async Task<S3RefreshResult> RunAsync(S3ObjectClient client, S3KeyLayout layout, string cacheRoot,
        Action<string>? warn = null, CancellationToken ct = default)
    {
        warn ??= S3Warnings.Default;
        cacheRoot = Path.GetFullPath(cacheRoot);
        using var marker = MaintenanceMarker.Enter(cacheRoot, MaintenanceMode);
        var work = Path.Combine(cacheRoot, Config.S3ConfigFiles.StateDir, "refresh-" + Guid.NewGuid().ToString("N")[..8]);
        var fresh = Path.Combine(work, "new");
        Directory.CreateDirectory(fresh);
        try
        {
            int files = 0, namespaces = 0, ignored = 0;
            var downloads = new List<(string Key, string Target)>();
            await foreach (var o in client.ListAsync(layout.ContentPrefix, ct: ct).ConfigureAwait(false))
            {
                if (!layout.TryParseContentKey(o.Key, out var rel, out var reason) || LocalPath(fresh, rel) is not { } target)
                {
                    warn($"s3-refresh: ignoring object '{o.Key}': {reason ?? "outside the datastore"}");
                    ignored++;
                    continue;
                }
                if (Path.GetFileName(rel) == ContentPathRules.NamespaceMarker)
                {
                    // Locally a namespace is just its directory.
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    namespaces++;
                    continue;
                }
                downloads.Add((o.Key, target));
            }

            await Parallel.ForEachAsync(downloads, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (d, token) =>
            {
                var data = await client.GetAsync(d.Key, token).ConfigureAwait(false);
                if (data == null) return; // deleted since the listing
                Directory.CreateDirectory(Path.GetDirectoryName(d.Target)!);
                await File.WriteAllBytesAsync(d.Target, data, token).ConfigureAwait(false);
                Interlocked.Increment(ref files);
            }).ConfigureAwait(false);

            SwapTrees(cacheRoot, fresh, Path.Combine(work, "old"));
            return new S3RefreshResult(files, namespaces, ignored);
        }
        finally
        {
            // Never through a symlink: the old trees moved here are removed relative to the cache root.
            try { Datastore.Platform.SafeDelete.Tree(cacheRoot, Path.GetRelativePath(cacheRoot, work)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or Datastore.Formats.BackupFsException) { }
        }
    }

    /// <summary>The file's path below root; null if it would leave root (defence in depth after validation).</summary>
    private static string? LocalPath(string root, string relativePath)
    {
        var full = Path.GetFullPath(Path.Combine(root, relativePath));
        return full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) ? full : null;
    }

    private static void SwapTrees(string cacheRoot, string fresh, string old)
    {
        Directory.CreateDirectory(old);
        foreach (var tree in Trees)
        {
            var live = Path.Combine(cacheRoot, tree);
            if (Directory.Exists(live)) Directory.Move(live, Path.Combine(old, tree));
            var replacement = Path.Combine(fresh, tree);
            if (Directory.Exists(replacement)) Directory.Move(replacement, live);
        }
    }
}
