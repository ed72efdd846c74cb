using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// Prune and forget: applies PBS's keep rules (<see cref="PruneSelector"/>) to a group and removes
/// the snapshots they do not keep. Protected snapshots are never removed. Works under the group
/// lock, so it refuses to run while a backup of the group is running. Chunks are not touched:
/// garbage collection frees them later.
/// </summary>
public sealed class Pruner
{
    private readonly DataStore _store;

    public Pruner(DataStore store) => _store = store;

    /// <summary>The marks the keep rules give the group's snapshots (oldest first), without removing anything.</summary>
    public PruneResult Plan(BackupGroup group, KeepOptions options, TimeZoneInfo? zone = null)
    {
        _store.RequireRealDirectory(group.RelativePath, $"group {group}");
        var snapshots = _store.ListSnapshots(group);
        var candidates = snapshots.Select(s => new PruneCandidate(s.Snapshot.BackupTime, s.Protected, s.Finished)).ToList();
        var marks = PruneSelector.Select(candidates, options, zone);
        var entries = snapshots.Select((s, i) => new PruneEntry(s, marks[i], Removed: false)).ToList();
        return new PruneResult(group, options, DryRun: true, entries);
    }

    /// <summary>
    /// Prunes the group. With <paramref name="dryRun"/> it returns the plan only. Stops at the first
    /// failed removal (the error says which snapshot); what is left is still listed, so a rerun
    /// finishes the job.
    /// </summary>
    public async Task<PruneResult> PruneAsync(BackupGroup group, KeepOptions options, bool dryRun = false,
        TimeZoneInfo? zone = null, IProgress<MaintenanceProgress>? progress = null, CancellationToken ct = default)
    {
        if (dryRun) return Plan(group, options, zone);
        if (!_store.GroupExists(group)) throw new BackupFsException($"group {group} does not exist");
        using var groupLock = DatastoreLocks.LockGroup(_store, group);
        var plan = Plan(group, options, zone);
        var meter = new ProgressMeter(progress, "prune", plan.RemoveCount);
        var entries = new List<PruneEntry>(plan.Entries.Count);
        foreach (var entry in plan.Entries)
        {
            ct.ThrowIfCancellationRequested();
            if (entry.Mark != PruneMark.Remove || entry.Snapshot.Protected)
            {
                entries.Add(entry);
                continue;
            }
            await SnapshotRemover.RemoveAsync(_store, entry.Snapshot.Snapshot, ct).ConfigureAwait(false);
            entries.Add(entry with { Removed = true });
            meter.Add(1);
        }
        meter.Complete();
        return plan with { DryRun = false, Entries = entries };
    }

    /// <summary>Removes one snapshot (finished or not).</summary>
    /// <exception cref="SnapshotProtectedException">the snapshot is protected</exception>
    /// <exception cref="BackupFsException">it does not exist, or its group is locked by a running backup</exception>
    public async Task ForgetAsync(SnapshotRef snapshot, CancellationToken ct = default)
    {
        _store.RequireRealDirectory(snapshot.RelativePath, $"snapshot {snapshot}");
        using var groupLock = DatastoreLocks.LockGroup(_store, snapshot.Group);
        await SnapshotRemover.RemoveAsync(_store, snapshot, ct).ConfigureAwait(false);
    }
}
