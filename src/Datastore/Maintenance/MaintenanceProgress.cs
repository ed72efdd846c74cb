using System.Diagnostics;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// One progress report of a long maintenance run (GC mark/sweep, verify, prune), for the command
/// line to render as a bar on a terminal or as log lines otherwise. Items are what the phase counts
/// (index files, chunk directories, chunks, snapshots); Bytes what it read or removed.
/// </summary>
public readonly record struct MaintenanceProgress(string Phase, long Items, long? TotalItems, long Bytes, TimeSpan Elapsed, bool Completed)
{
    public double ItemsPerSecond => Elapsed.TotalSeconds > 0 ? Items / Elapsed.TotalSeconds : 0;
    public double BytesPerSecond => Elapsed.TotalSeconds > 0 ? Bytes / Elapsed.TotalSeconds : 0;

    /// <summary>0..1 when the total is known.</summary>
    public double? Fraction => TotalItems is > 0 and long total ? Math.Min(1.0, (double)Items / total) : null;

    /// <summary>Remaining time at the average rate so far, when the total is known and something was done.</summary>
    public TimeSpan? Eta => TotalItems is long total && Items > 0 && total >= Items
        ? TimeSpan.FromSeconds(Elapsed.TotalSeconds * (total - Items) / Items)
        : null;
}

/// <summary>
/// Counts a phase's work (thread-safe) and reports it to an <see cref="IProgress{T}"/> at most
/// every <see cref="Interval"/>, plus a final report on <see cref="Complete"/>.
/// </summary>
public sealed class ProgressMeter
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(500);

    private readonly IProgress<MaintenanceProgress>? _sink;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _items, _bytes, _total = -1, _lastReportTicks;

    public string Phase { get; }
    public TimeSpan Interval { get; }
    public long Items => Interlocked.Read(ref _items);
    public long Bytes => Interlocked.Read(ref _bytes);

    public ProgressMeter(IProgress<MaintenanceProgress>? sink, string phase, long? totalItems = null, TimeSpan? interval = null)
    {
        _sink = sink;
        Phase = phase;
        Interval = interval ?? DefaultInterval;
        if (totalItems is long t) _total = t;
    }

    public void SetTotal(long totalItems) => Interlocked.Exchange(ref _total, totalItems);

    public void Add(long items, long bytes = 0)
    {
        Interlocked.Add(ref _items, items);
        if (bytes != 0) Interlocked.Add(ref _bytes, bytes);
        if (_sink is null) return;
        long now = _clock.Elapsed.Ticks, last = Interlocked.Read(ref _lastReportTicks);
        if (now - last >= Interval.Ticks && Interlocked.CompareExchange(ref _lastReportTicks, now, last) == last)
            _sink.Report(Snapshot(completed: false));
    }

    public void Complete() => _sink?.Report(Snapshot(completed: true));

    public MaintenanceProgress Snapshot(bool completed = false)
    {
        long total = Interlocked.Read(ref _total);
        return new MaintenanceProgress(Phase, Items, total >= 0 ? total : null, Bytes, _clock.Elapsed, completed);
    }
}
