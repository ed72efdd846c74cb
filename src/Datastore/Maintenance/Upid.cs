using System.Diagnostics;
using System.Text;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// PBS task ids (UPID), which PBS stores in .gc-status and in a manifest's verify_state and
/// validates against PROXMOX_UPID_REGEX when it reads them:
/// "UPID:&lt;node&gt;:&lt;pid 8 hex&gt;:&lt;pstart 8 hex&gt;:&lt;task id 8 hex&gt;:&lt;start 8 hex&gt;:&lt;type&gt;:&lt;id&gt;:&lt;authid&gt;:".
/// </summary>
public static class Upid
{
    private static int s_taskCounter;

    /// <param name="workerType">e.g. "garbage_collection", "verify", "prune"</param>
    /// <param name="workerId">e.g. the datastore name; escaped so it has no ':' or white space</param>
    public static string Create(string workerType, string? workerId, string authId = "root@pam")
    {
        string node = NodeName();
        int pid = Environment.ProcessId;
        long pstart = 0;
        try { pstart = (long)(Process.GetCurrentProcess().StartTime.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds; }
        catch (InvalidOperationException) { }
        int task = Interlocked.Increment(ref s_taskCounter);
        long start = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return $"UPID:{node}:{pid:X8}:{pstart & 0xFFFFFFFF:X8}:{task:X8}:{start:X8}:{Escape(workerType)}:{Escape(workerId ?? "")}:{Escape(authId)}:";
    }

    // Node names are DNS labels: letters, digits, inner '-'.
    private static string NodeName()
    {
        var raw = Environment.MachineName.Split('.')[0];
        var sb = new StringBuilder();
        foreach (var c in raw) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-');
        var name = sb.ToString().Trim('-');
        return name.Length == 0 ? "localhost" : name;
    }

    // systemd-style escaping as PBS applies to worker ids: '/' becomes '-', other unsafe bytes \xNN.
    private static string Escape(string value)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            char c = (char)b;
            if (c == '/') sb.Append('-');
            else if (char.IsAsciiLetterOrDigit(c) || c is '_' || (c == '.' && sb.Length > 0)) sb.Append(c);
            else sb.Append($"\\x{b:x2}");
        }
        return sb.ToString();
    }
}
