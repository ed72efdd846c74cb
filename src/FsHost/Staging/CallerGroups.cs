using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>Whether the calling process belongs to a group (primary or supplementary, from /proc/&lt;pid&gt;/status), as the kernel's in_group_p.</summary>
internal static class CallerGroups
{
    public static bool InGroupOrRoot(RequestContext ctx, uint gid)
    {
        if (ctx.Uid == 0 || ctx.Gid == gid) return true;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{ctx.Pid}/status"))
            {
                if (!line.StartsWith("Groups:", StringComparison.Ordinal)) continue;
                foreach (var part in line[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                    if (uint.TryParse(part, out var g) && g == gid) return true;
                return false;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    }
}
