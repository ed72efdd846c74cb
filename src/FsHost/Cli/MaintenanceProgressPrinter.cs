using BackupFs.Datastore.Maintenance;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// Renders maintenance progress: a redrawn line (items, bytes, rate, ETA) on a terminal, plain
/// log lines (at most every few seconds) otherwise.
/// </summary>
public sealed class MaintenanceProgressPrinter : IProgress<MaintenanceProgress>
{
    private readonly TextWriter _out;
    private readonly bool _terminal;
    private DateTime _lastLog = DateTime.MinValue;
    private readonly object _lock = new();

    public MaintenanceProgressPrinter(TextWriter output, bool? terminal = null)
    {
        _out = output;
        _terminal = terminal ?? !Console.IsErrorRedirected;
    }

    public void Report(MaintenanceProgress p)
    {
        lock (_lock)
        {
            var total = p.TotalItems is long t ? $"/{t}" : "";
            var eta = p.Eta is TimeSpan e ? $", ETA {e:hh\\:mm\\:ss}" : "";
            var took = p.Completed ? $" in {p.Elapsed.TotalSeconds:0.00} s" : eta;
            var line = $"{p.Phase}: {p.Items}{total} items, {ProgressLine.Format(p.Bytes)}, {ProgressLine.Format((long)p.BytesPerSecond)}/s{took}";
            if (_terminal)
            {
                _out.Write("\r" + line + "    ");
                if (p.Completed) _out.WriteLine();
            }
            else if (p.Completed || DateTime.UtcNow - _lastLog > TimeSpan.FromSeconds(5))
            {
                _out.WriteLine(line);
                _lastLog = DateTime.UtcNow;
            }
        }
    }
}
