using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Maintenance;

/// <summary>One snapshot in a prune run: what the keep rules decided and whether it is gone.</summary>
public sealed record PruneEntry(SnapshotInfo Snapshot, PruneMark Mark, bool Removed);

/// <summary>
/// The outcome of pruning one group, oldest snapshot first. In a dry run nothing is removed and
/// the entries are the plan.
/// </summary>
public sealed record PruneResult(BackupGroup Group, KeepOptions Options, bool DryRun, IReadOnlyList<PruneEntry> Entries)
{
    public int KeptCount => Entries.Count(e => e.Mark.Keeps());
    public int RemoveCount => Entries.Count(e => e.Mark == PruneMark.Remove);
    public int RemovedCount => Entries.Count(e => e.Removed);
}
