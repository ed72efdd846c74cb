namespace BackupFs.FsHost.Fuse;

/// <summary>
/// Raises the mount's read-ahead window (/sys/class/bdi/&lt;major:minor&gt;/read_ahead_kb). The
/// kernel sizes buffered READ requests by this window, not by the application's buffer, so at
/// the default 128 KiB the negotiated 1 MiB requests never happen. Needs root.
/// </summary>
internal static class ReadAheadTuner
{
    public static bool TrySet(string mountPoint, int kilobytes, Action<string> log)
    {
        try
        {
            var entry = MountTable.Find(mountPoint);
            if (entry is null) { log($"fuse: read-ahead not set: {mountPoint} not in the mount table"); return false; }
            var path = $"/sys/class/bdi/{entry.Device}/read_ahead_kb";
            File.WriteAllText(path, kilobytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log($"fuse: read-ahead not set: {e.Message}");
            return false;
        }
    }
}
