using BackupFs.Datastore.Formats;

namespace BackupFs.FsHost.Nodes;

/// <summary>One stderr line per failure, at most a few per second, so a broken archive cannot flood the log.</summary>
public sealed class MountErrorLog
{
    private readonly Action<string> _sink;
    private readonly HashSet<string> _once = new();
    private long _windowStart;
    private int _inWindow;

    public MountErrorLog(Action<string>? sink = null) => _sink = sink ?? (m => Console.Error.WriteLine(m));

    public void Report(string what, Exception e)
    {
        // The backend logs its own outages (one line when it stops answering, one when it answers
        // again); repeating that for every read that failed meanwhile would flood the log.
        if (e is IBackendUnreachable) return;
        long now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _windowStart) > 1000)
        {
            Interlocked.Exchange(ref _windowStart, now);
            Interlocked.Exchange(ref _inWindow, 0);
        }
        if (Interlocked.Increment(ref _inWindow) <= 5) _sink($"backupfs: {what}: {e.Message}");
    }

    /// <summary>A message logged only the first time (e.g. the key an encrypted snapshot needs), at most 10000 remembered.</summary>
    public void ReportOnce(string message)
    {
        lock (_once)
        {
            if (_once.Count >= 10000 || !_once.Add(message)) return;
        }
        _sink($"backupfs: {message}");
    }
}
