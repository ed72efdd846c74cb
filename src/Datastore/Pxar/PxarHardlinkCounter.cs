namespace BackupFs.Datastore.Pxar;

/// <summary>
/// pxar stores no link counts. This walks the metadata (never the payload) once and counts, per
/// hardlink target Identity, 1 + the number of HARDLINK entries pointing at it. Entries not in the
/// result have a link count of 1 (directories: the mount may use 2 + subdirectories).
/// </summary>
public static class PxarHardlinkCounter
{
    public static async ValueTask<Dictionary<long, int>> CountAsync(PxarAccessor accessor, CancellationToken ct = default)
    {
        var counts = new Dictionary<long, int>();
        var pending = new Stack<PxarEntry>();
        pending.Push(accessor.Root);
        while (pending.Count > 0)
        {
            foreach (var child in await accessor.ListDirectoryAsync(pending.Pop(), ct).ConfigureAwait(false))
            {
                if (child.Kind == PxarEntryKind.Directory) pending.Push(child);
                else if (child.Kind == PxarEntryKind.Hardlink)
                    counts[child.HardlinkTargetIdentity] = counts.GetValueOrDefault(child.HardlinkTargetIdentity, 1) + 1;
            }
        }
        return counts;
    }
}
