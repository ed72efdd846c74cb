using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Maintenance;

/// <summary>
/// "&lt;cache&gt;/.backupfs/maintenance": while it exists the datastore is in a maintenance mode
/// (e.g. s3-refresh) and every other operation must refuse to start. It holds the mode and the
/// pid of the process that set it; a marker left by a dead process is taken over.
/// </summary>
public sealed class MaintenanceMarker : IDisposable
{
    public const string FileName = "maintenance";

    public string Path { get; }
    public string Mode { get; }
    private bool _released;

    private MaintenanceMarker(string path, string mode) { Path = path; Mode = mode; }

    public static string MarkerPath(string cacheRoot) => System.IO.Path.Combine(cacheRoot, Config.S3ConfigFiles.StateDir, FileName);

    /// <summary>The active mode and pid, or null when the datastore is not in maintenance.</summary>
    public static (string Mode, int Pid)? Read(string cacheRoot)
    {
        string text;
        try { text = File.ReadAllText(MarkerPath(cacheRoot)); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
        var parts = text.Trim().Split(' ', 2);
        int pid = parts.Length > 1 && int.TryParse(parts[1], out var p) ? p : 0;
        return (parts[0], pid);
    }

    /// <exception cref="BackupFsException">the datastore is in a maintenance mode set by a live process</exception>
    public static void ThrowIfActive(string cacheRoot)
    {
        if (Read(cacheRoot) is { } m && IsAlive(m.Pid))
            throw new BackupFsException($"the datastore is in maintenance mode '{m.Mode}' (process {m.Pid}); try again when it has finished");
    }

    /// <summary>Enters a maintenance mode exclusively.</summary>
    /// <exception cref="BackupFsException">another live process holds a maintenance mode</exception>
    public static MaintenanceMarker Enter(string cacheRoot, string mode)
    {
        var path = MarkerPath(cacheRoot);
        Datastore.Platform.PrivateDirectory.Ensure(cacheRoot, Datastore.Layout.DataStore.PrivateDirName);
        var content = $"{mode} {Environment.ProcessId}\n";
        for (int attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = Datastore.Platform.PrivateDirectory.UnixFile;
                using var fs = new FileStream(path, options);
                fs.Write(System.Text.Encoding.UTF8.GetBytes(content));
                return new MaintenanceMarker(path, mode);
            }
            catch (IOException) when (File.Exists(path))
            {
                ThrowIfActive(cacheRoot);
                File.Delete(path); // left by a process that died
            }
        }
        throw new BackupFsException($"cannot enter maintenance mode '{mode}': {path} keeps reappearing");
    }

    private static bool IsAlive(int pid)
    {
        if (pid <= 0) return true; // unknown owner: be safe
        if (pid == Environment.ProcessId) return true;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException) { return false; }
    }

    public void Dispose()
    {
        if (_released) return;
        _released = true;
        try { File.Delete(Path); } catch (IOException) { }
    }
}
