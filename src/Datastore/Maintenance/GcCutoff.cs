namespace BackupFs.Datastore.Maintenance;

/// <summary>What the sweep does with one chunk file, by its access time.</summary>
public enum SweepDecision
{
    /// <summary>Not marked since the cutoff: delete it.</summary>
    Remove,
    /// <summary>Unmarked, but younger than the cutoff or than the oldest running backup: kept for safety (PBS "pending").</summary>
    Pending,
    /// <summary>Marked by this GC, or written/touched by a backup since: in use.</summary>
    Keep,
}

/// <summary>
/// PBS's GC time rule (datastore.rs garbage_collection_impl, chunk_store.rs cond_sweep_chunk), all
/// in epoch seconds. min_atime = phase-1 start − cutoff (default 24 h 5 min); when the oldest
/// running backup started before that, min_atime = its start − 5 min instead. A chunk whose atime
/// is before min_atime is removed; before the oldest writer's start (the phase-1 start when no
/// backup runs) it is pending; otherwise it is in use.
/// Why it is safe: phase 1 sets the atime of every referenced chunk to now, and a backup sets the
/// atime of every chunk it stores or reuses at or after its own start; both are ≥ min_atime.
/// </summary>
public readonly record struct GcCutoff(long Phase1Start, long OldestWriter, long MinAtime)
{
    public static readonly TimeSpan DefaultAtimeCutoff = TimeSpan.FromSeconds(24 * 3600 + 300);
    public const long WriterSafetyMarginSeconds = 300;

    /// <param name="phase1Start">epoch seconds when marking starts</param>
    /// <param name="oldestWriter">start of the oldest running backup, or null</param>
    /// <param name="atimeCutoff">PBS tuning gc-atime-cutoff (tests use 0)</param>
    public static GcCutoff Compute(long phase1Start, long? oldestWriter, TimeSpan atimeCutoff)
    {
        if (atimeCutoff < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(atimeCutoff), "the atime cutoff must not be negative");
        long writer = oldestWriter ?? phase1Start;
        long minAtime = phase1Start - (long)atimeCutoff.TotalSeconds;
        if (writer < minAtime) minAtime = writer - WriterSafetyMarginSeconds;
        return new GcCutoff(phase1Start, writer, minAtime);
    }

    public SweepDecision Classify(long atime) =>
        atime < MinAtime ? SweepDecision.Remove
        : atime < OldestWriter ? SweepDecision.Pending
        : SweepDecision.Keep;
}
