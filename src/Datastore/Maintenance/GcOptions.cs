namespace BackupFs.Datastore.Maintenance;

/// <summary>Settings of one garbage collection run.</summary>
public sealed record GcOptions
{
    /// <summary>PBS tuning gc-atime-cutoff: how long an unreferenced chunk is kept after its last use. Default 24 h 5 min.</summary>
    public TimeSpan AtimeCutoff { get; init; } = GcCutoff.DefaultAtimeCutoff;
    /// <summary>PBS tuning gc-cache-capacity: distinct digests remembered during marking (0 = touch every reference). Default 1 Mi.</summary>
    public int MarkCacheCapacity { get; init; } = 1024 * 1024;
    /// <summary>PBS tuning gc-atime-safety-check: verify the file system updates atimes before marking. Default on.</summary>
    public bool AtimeSafetyCheck { get; init; } = true;
    /// <summary>Task id written to .gc-status; default a new UPID of type garbage_collection.</summary>
    public string? Upid { get; init; }
    /// <summary>Where chunks live; default chosen by <see cref="MaintenanceBackends.ForGc"/>.</summary>
    public IGcBackend? Backend { get; init; }
    /// <summary>Progress of the phases "gc-mark" (items = index files) and "gc-sweep" (items = chunk directories or objects).</summary>
    public IProgress<MaintenanceProgress>? Progress { get; init; }
}
