using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// PBS's two-phase garbage collection of a datastore, under the exclusive process lock of
/// &lt;store&gt;/.lock (<see cref="DatastoreProcessLock"/>): refused while another process (BackupFs
/// or PBS) runs a backup, and no other process can start one until it ends. Backups of this
/// process may run beside it; the oldest one's start bounds the cutoff, as in PBS.
/// <list type="number">
/// <item>Cutoff: phase-1 start and the oldest running backup give min_atime (<see cref="GcCutoff"/>).</item>
/// <item>Mark: every chunk of every index gets atime = now (<see cref="ChunkMarker"/>); missing chunks are counted, never fatal.</item>
/// <item>Sweep: the backend removes chunks whose atime is before min_atime (<see cref="IGcBackend.SweepAsync"/>).</item>
/// <item>Status: written to &lt;store&gt;/.gc-status and returned.</item>
/// </list>
/// </summary>
public sealed class GarbageCollector
{
    private readonly DataStore _store;
    private readonly GcOptions _options;

    public GarbageCollector(DataStore store, GcOptions? options = null)
    {
        _store = store;
        _options = options ?? new GcOptions();
    }

    /// <exception cref="Formats.BackupFsException">GC already runs, the backend failed its checks, or an index is unreadable (nothing swept then)</exception>
    public async Task<GarbageCollectionStatus> RunAsync(CancellationToken ct = default)
    {
        using var gcLock = DatastoreProcessLock.AcquireExclusive(_store);
        var backend = _options.Backend ?? MaintenanceBackends.ForGc(_store);
        await backend.PrepareAsync(_options.AtimeSafetyCheck, ct).ConfigureAwait(false);

        // File times come from the kernel's coarse clock, which may lag the clock read here by a
        // tick: taking phase 1 one second early keeps a chunk written right after this moment.
        long phase1Start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1;
        var cutoff = GcCutoff.Compute(phase1Start, DatastoreProcessLock.OldestShared(_store), _options.AtimeCutoff);
        var status = new GarbageCollectionStatus
        {
            Upid = _options.Upid ?? Upid.Create("garbage_collection", _store.Name),
            Cutoff = cutoff,
        };

        var markProgress = new ProgressMeter(_options.Progress, "gc-mark");
        var marker = new ChunkMarker(_store, backend, status, markProgress, _options.MarkCacheCapacity);
        await Task.Run(() => marker.MarkAll(ct), ct).ConfigureAwait(false);

        var sweepProgress = new ProgressMeter(_options.Progress, "gc-sweep");
        await backend.SweepAsync(new GcSweepContext(cutoff, status, sweepProgress), ct).ConfigureAwait(false);

        GcStatusFile.TryWrite(_store, status);
        return status;
    }
}
