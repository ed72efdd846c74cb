namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// PBS's prune selection for the snapshots of one backup group (pbs-datastore/src/prune.rs,
/// compute_prune_info), plus the keep-all rule its prune callers apply when no option is set.
/// </summary>
public static class PruneSelector
{
    /// <summary>
    /// One mark per candidate, in input order (input order is arbitrary). When the options keep
    /// nothing (<see cref="KeepOptions.KeepsAll"/>) no snapshot is marked Remove: PBS's callers
    /// then keep every snapshot, so Remove becomes Keep; Protected and KeepPartial stay as computed.
    /// Periods use the wall clock of <paramref name="zone"/>, default the local zone as PBS does.
    /// </summary>
    public static IReadOnlyList<PruneMark> Select(
        IReadOnlyList<PruneCandidate> snapshots, KeepOptions options, TimeZoneInfo? zone = null)
    {
        var marks = ComputeMarks(snapshots, options, zone);
        if (!options.KeepsAll) return marks;
        var kept = new PruneMark[marks.Count];
        for (var i = 0; i < kept.Length; i++)
            kept[i] = marks[i] == PruneMark.Remove ? PruneMark.Keep : marks[i];
        return kept;
    }

    /// <summary>
    /// The marks exactly as PBS's compute_prune_info returns them, without the keep-all rule
    /// (with no rule set, every finished unprotected snapshot is Remove here).
    /// </summary>
    public static IReadOnlyList<PruneMark> ComputeMarks(
        IReadOnlyList<PruneCandidate> snapshots, KeepOptions options, TimeZoneInfo? zone = null)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        zone ??= TimeZoneInfo.Local;

        var newestFirst = SortNewestFirst(snapshots);
        var marks = new PruneMark?[snapshots.Count];

        MarkUnfinished(snapshots, newestFirst, marks);

        if (options.Last is int last)
            MarkRule(snapshots, newestFirst, marks, last, i => snapshots[i].BackupTime);

        if (options.Hourly is not null || options.Daily is not null || options.Weekly is not null
            || options.Monthly is not null || options.Yearly is not null)
        {
            var local = new DateTime[snapshots.Count];
            for (var i = 0; i < local.Length; i++)
                local[i] = RetentionPeriod.ToLocal(snapshots[i].BackupTime, zone);

            // Same order as PBS: each rule sees the marks of the rules before it.
            if (options.Hourly is int hourly)
                MarkRule(snapshots, newestFirst, marks, hourly, i => RetentionPeriod.Hourly(local[i]));
            if (options.Daily is int daily)
                MarkRule(snapshots, newestFirst, marks, daily, i => RetentionPeriod.Daily(local[i]));
            if (options.Weekly is int weekly)
                MarkRule(snapshots, newestFirst, marks, weekly, i => RetentionPeriod.Weekly(local[i]));
            if (options.Monthly is int monthly)
                MarkRule(snapshots, newestFirst, marks, monthly, i => RetentionPeriod.Monthly(local[i]));
            if (options.Yearly is int yearly)
                MarkRule(snapshots, newestFirst, marks, yearly, i => RetentionPeriod.Yearly(local[i]));
        }

        var result = new PruneMark[snapshots.Count];
        for (var i = 0; i < result.Length; i++)
            result[i] = snapshots[i].Protected ? PruneMark.Protected : marks[i] ?? PruneMark.Remove;
        return result;
    }

    private static int[] SortNewestFirst(IReadOnlyList<PruneCandidate> snapshots)
    {
        var order = new int[snapshots.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => snapshots[b].BackupTime.CompareTo(snapshots[a].BackupTime));
        // A group's snapshots are directories named by their time, so two can never share one.
        for (var k = 1; k < order.Length; k++)
            if (snapshots[order[k]].BackupTime == snapshots[order[k - 1]].BackupTime)
                throw new ArgumentException(
                    $"two snapshots share the backup time {snapshots[order[k]].BackupTime}", nameof(snapshots));
        return order;
    }

    // PBS remove_incomplete_snapshots: only the newest unfinished snapshot, and only if no finished
    // snapshot is newer, may still be in progress; every other unfinished snapshot goes.
    // These marks come first, so unfinished snapshots never count toward any keep rule.
    private static void MarkUnfinished(IReadOnlyList<PruneCandidate> snapshots, int[] newestFirst, PruneMark?[] marks)
    {
        var keepUnfinished = true;
        foreach (var i in newestFirst)
        {
            if (!snapshots[i].Finished)
                marks[i] = keepUnfinished ? PruneMark.KeepPartial : PruneMark.Remove;
            keepUnfinished = false;
        }
    }

    // PBS mark_selections: walking newest first, keep the newest unmarked snapshot of each period
    // until `keep` new periods are taken. Periods already holding a Keep from an earlier rule are
    // skipped without counting; further snapshots of a period this rule took are marked Remove,
    // which also hides them from later rules. Protected snapshots are passed over and never count.
    private static void MarkRule(
        IReadOnlyList<PruneCandidate> snapshots, int[] newestFirst, PruneMark?[] marks, int keep, Func<int, long> periodOf)
    {
        var alreadyIncluded = new HashSet<long>();
        foreach (var i in newestFirst)
            if (marks[i] == PruneMark.Keep)
                alreadyIncluded.Add(periodOf(i));

        var taken = new HashSet<long>();
        foreach (var i in newestFirst)
        {
            if (marks[i] is not null) continue;
            if (snapshots[i].Protected)
            {
                marks[i] = PruneMark.Protected;
                continue;
            }
            var period = periodOf(i);
            if (alreadyIncluded.Contains(period)) continue;
            if (taken.Contains(period))
            {
                marks[i] = PruneMark.Remove;
                continue;
            }
            if (taken.Count >= keep) break;
            taken.Add(period);
            marks[i] = PruneMark.Keep;
        }
    }
}
