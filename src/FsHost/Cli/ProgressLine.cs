using System.Diagnostics;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// A one-line progress display (bytes, rate) on stderr, redrawn at most 4 times a second, only
/// when stderr is a terminal; otherwise silent, so logs and pipes stay clean.
/// </summary>
public sealed class ProgressLine : IDisposable
{
    private readonly string _label;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _enabled;
    private long _lastDraw;
    private long _bytes, _items;

    public ProgressLine(string label, bool? enabled = null)
    {
        _label = label;
        _enabled = enabled ?? !Console.IsErrorRedirected;
    }

    public void Add(long bytes, long items = 0)
    {
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Add(ref _items, items);
        if (!_enabled) return;
        long now = _clock.ElapsedMilliseconds;
        if (now - Interlocked.Read(ref _lastDraw) < 250) return;
        Interlocked.Exchange(ref _lastDraw, now);
        Draw();
    }

    private void Draw()
    {
        double secs = Math.Max(0.001, _clock.Elapsed.TotalSeconds);
        var items = _items > 0 ? $", {_items} items" : "";
        Console.Error.Write($"\r{_label}: {Format(_bytes)}{items}, {Format((long)(_bytes / secs))}/s   ");
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };

    public void Dispose()
    {
        if (!_enabled) return;
        Draw();
        Console.Error.WriteLine();
    }
}
