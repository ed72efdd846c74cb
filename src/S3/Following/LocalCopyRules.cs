using BackupFs.Datastore.Layout;

namespace BackupFs.S3.Following;

/// <summary>
/// When the follower may remove a local directory the bucket no longer lists: only when nothing in
/// it was written after the listing began (a snapshot this host just finished is in the bucket
/// first, but the listing may predate its upload) and it holds no unfinished snapshot (a backup
/// of this host may be writing it). Symlinks are removed, never followed.
/// </summary>
internal static class LocalCopyRules
{
    /// <summary>Clock and file-time granularity slack around the listing's start.</summary>
    public static readonly TimeSpan Slack = TimeSpan.FromSeconds(2);

    public static bool TryRemoveStale(string dir, DateTime listingStartUtc)
    {
        if (!Directory.Exists(dir)) return false;
        var limit = listingStartUtc - Slack;
        var pending = new Stack<string>();
        pending.Push(dir);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null) continue;
            if (NameRules.IsBackupTime(info.Name) && !File.Exists(Path.Combine(current, DataStore.ManifestName))) return false;
            foreach (var entry in info.EnumerateFileSystemInfos())
            {
                if (entry.LastWriteTimeUtc >= limit) return false;
                if (entry is DirectoryInfo sub && sub.LinkTarget is null) pending.Push(sub.FullName);
            }
        }
        Directory.Delete(dir, recursive: true);
        return true;
    }

    /// <summary>A finished local snapshot the bucket no longer has as finished: removed unless written after the listing began.</summary>
    public static bool TryRemoveSnapshot(string snapshotDir, DateTime listingStartUtc)
    {
        var manifest = Path.Combine(snapshotDir, DataStore.ManifestName);
        if (!File.Exists(manifest) || File.GetLastWriteTimeUtc(manifest) >= listingStartUtc - Slack) return false;
        // The manifest first: from then on the snapshot is unfinished and hidden even if the rest fails.
        File.Delete(manifest);
        Directory.Delete(snapshotDir, recursive: true);
        return true;
    }
}
