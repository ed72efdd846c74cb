namespace BackupFs.Datastore.Platform;

/// <summary>
/// Lowers the CPU priority of the calling thread alone (Linux: setpriority on its thread id), for
/// work done ahead of need that should only take CPU the foreground leaves idle.
/// </summary>
public static class ThreadNiceness
{
    private const int PrioProcess = 0;

    /// <summary>Sets the calling thread's nice value; false where the platform has none or refuses.</summary>
    public static bool LowerCurrent(int nice)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return LibC.setpriority(PrioProcess, LibC.gettid(), nice) == 0; }
        catch (EntryPointNotFoundException) { return false; } // a libc without gettid (glibc < 2.30)
    }
}
