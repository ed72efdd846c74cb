namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// PBS retention options (keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly).
/// Null means the rule is not set. PBS's API schema requires each set value to be at least 1;
/// the selection itself also accepts 0 (the rule then keeps nothing), as PBS's compute_prune_info does.
/// </summary>
public sealed record KeepOptions(
    int? Last = null,
    int? Hourly = null,
    int? Daily = null,
    int? Weekly = null,
    int? Monthly = null,
    int? Yearly = null)
{
    /// <summary>
    /// True when no rule asks to keep anything (all unset or 0). PBS then keeps every snapshot
    /// ("No prune selection - keeping all files"), mirroring KeepOptions::keeps_something() == false.
    /// </summary>
    public bool KeepsAll => !(Last > 0 || Hourly > 0 || Daily > 0 || Weekly > 0 || Monthly > 0 || Yearly > 0);

    /// <summary>Throws when a count is negative (PBS stores them as unsigned).</summary>
    public void Validate()
    {
        Check(Last, "keep-last");
        Check(Hourly, "keep-hourly");
        Check(Daily, "keep-daily");
        Check(Weekly, "keep-weekly");
        Check(Monthly, "keep-monthly");
        Check(Yearly, "keep-yearly");
    }

    /// <summary>The options as PBS prints them in task logs, e.g. "--keep-last 3 --keep-daily 7".</summary>
    public string ToCliString()
    {
        var parts = new List<string>();
        void Add(int? value, string name) { if (value is int v) parts.Add($"--{name} {v}"); }
        Add(Last, "keep-last");
        Add(Hourly, "keep-hourly");
        Add(Daily, "keep-daily");
        Add(Weekly, "keep-weekly");
        Add(Monthly, "keep-monthly");
        Add(Yearly, "keep-yearly");
        return string.Join(' ', parts);
    }

    private static void Check(int? value, string name)
    {
        if (value < 0)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must not be negative");
    }
}
