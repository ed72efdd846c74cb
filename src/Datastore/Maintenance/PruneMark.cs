namespace BackupFs.Datastore.Maintenance;

/// <summary>What prune does with one snapshot; the names match PBS's PruneMark (pbs-datastore/src/prune.rs).</summary>
public enum PruneMark
{
    /// <summary>Selected by a keep rule (or kept because no rule is set).</summary>
    Keep,
    /// <summary>The newest unfinished snapshot (no manifest yet) when no finished snapshot is newer: it may still be running.</summary>
    KeepPartial,
    /// <summary>Has the .protected marker: never removed, never counted by a keep rule.</summary>
    Protected,
    /// <summary>To be deleted.</summary>
    Remove,
}

public static class PruneMarkExtensions
{
    /// <summary>True for every mark but Remove (PBS PruneMark::keep).</summary>
    public static bool Keeps(this PruneMark mark) => mark != PruneMark.Remove;

    /// <summary>PBS's display name, as printed in prune task logs: keep, keep-partial, protected, remove.</summary>
    public static string ToPbsName(this PruneMark mark) => mark switch
    {
        PruneMark.Keep => "keep",
        PruneMark.KeepPartial => "keep-partial",
        PruneMark.Protected => "protected",
        PruneMark.Remove => "remove",
        _ => throw new ArgumentOutOfRangeException(nameof(mark), mark, "unknown prune mark"),
    };
}
