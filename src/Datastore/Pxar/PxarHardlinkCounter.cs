namespace BackupFs.Datastore.Pxar;

/// <summary>
/// pxar stores no link counts. This counts, per hardlink target Identity, 1 + the number of
/// HARDLINK entries pointing at it, in one linear pass over the metadata stream's item headers
/// (file data is skipped, no entry is decoded). Entries not in the result have a link count of 1
/// (directories: the mount may use 2 + subdirectories).
/// </summary>
public static class PxarHardlinkCounter
{
    public static ValueTask<Dictionary<long, int>> CountAsync(PxarAccessor accessor, CancellationToken ct = default) =>
        accessor.CountHardlinksAsync(ct);
}
