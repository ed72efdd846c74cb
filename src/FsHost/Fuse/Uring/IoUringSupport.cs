namespace BackupFs.FsHost.Fuse.Uring;

/// <summary>
/// Whether this kernel serves FUSE over io_uring: the module parameter fuse.enable_uring must be
/// Y when a connection starts (it exists from kernel 6.14; default N). Only root may switch it on;
/// it is global, so the binding switches it on only when asked to (<see cref="FuseIoUring.On"/>).
/// </summary>
internal static class IoUringSupport
{
    private const string Parameter = "/sys/module/fuse/parameters/enable_uring";

    /// <summary>Whether this kernel can serve FUSE over io_uring at all (6.14+: the parameter exists).</summary>
    public static bool KernelHasIt => File.Exists(Parameter);

    public static bool IsEnabled()
    {
        try { return KernelHasIt && File.ReadAllText(Parameter).Trim() is "Y" or "1"; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Sets fuse.enable_uring=Y (root); false with a log line when it cannot.</summary>
    public static bool TryEnable(Action<string> log)
    {
        if (IsEnabled()) return true;
        if (!KernelHasIt) { log("fuse: this kernel has no FUSE over io_uring (needs 6.14+); serving over /dev/fuse"); return false; }
        try { File.WriteAllText(Parameter, "Y"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log($"fuse: cannot set {Parameter} ({e.Message}); serving over /dev/fuse");
            return false;
        }
        return IsEnabled();
    }

    /// <summary>The kernel's queue count: one per possible CPU (/sys/devices/system/cpu/possible, e.g. "0-3").</summary>
    public static int PossibleCpus()
    {
        try
        {
            var count = 0;
            foreach (var part in File.ReadAllText("/sys/devices/system/cpu/possible").Trim().Split(','))
            {
                var range = part.Split('-');
                var first = int.Parse(range[0]);
                var last = range.Length > 1 ? int.Parse(range[1]) : first;
                count += last - first + 1;
            }
            if (count > 0) return count;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException or OverflowException) { }
        return Environment.ProcessorCount;
    }
}
