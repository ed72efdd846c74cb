using System.CommandLine;
using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Staging.Nodes;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// `backupfs commit MOUNTPOINT/staging/[ns/...]&lt;type&gt;/&lt;id&gt;`: cuts the session's snapshot now
/// and prints its name (for scripts: rsync ... &amp;&amp; backupfs commit ...). Talks to the mount
/// process through control xattrs of the session directory, so it works for any mount, also one
/// started by another user or in another mount namespace view.
/// </summary>
public static class CommitCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("SESSION") { Description = "a staging session directory, e.g. /mnt/backup/staging/host/web1" };
        var discard = new Option<bool>("--discard") { Description = "drop the session's uncommitted changes instead" };
        var command = new Command("commit", "commit a staging session of a mount as a new snapshot (waits, then prints its name)") { path, discard };
        command.SetAction(parse =>
        {
            var dir = Path.GetFullPath(parse.GetValue(path)!).TrimEnd('/');
            var bytes = Posix.PathBytes(dir);
            if (Posix.TryLStat(bytes) is not { IsDirectory: true }) throw new BackupFsException($"{dir} is not a directory");
            if (!IsInStaging(dir))
                throw new BackupFsException($"{dir} is not a staging session of a backupfs mount (MOUNTPOINT/staging/[ns/<name>/...]<type>/<id>)");
            var control = parse.GetValue(discard) ? StagingControlXattrs.DiscardXattr : StagingControlXattrs.CommitXattr;
            try { Posix.SetXattr(bytes, Encoding.ASCII.GetBytes(control), "1"u8); }
            catch (IOException e)
            {
                var reason = Read(bytes, StagingControlXattrs.ErrorXattr);
                throw new BackupFsException($"commit of {dir} failed: {reason ?? e.Message}");
            }
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(discard))
            {
                output.WriteLine($"discarded the uncommitted changes in {dir}");
                return 0;
            }
            var snapshot = Read(bytes, StagingControlXattrs.SnapshotXattr) ?? throw new BackupFsException($"{dir}: the mount did not report the new snapshot");
            output.WriteLine(snapshot);
            if (Read(bytes, StagingControlXattrs.LastCommitXattr) is { } stats) parse.InvocationConfiguration.Error.WriteLine(stats);
            return 0;
        });
        return command;
    }

    /// <summary>True when the directory lies below "staging/" of a FUSE mount (so setting the control attribute cannot land on an ordinary directory).</summary>
    private static bool IsInStaging(string dir)
    {
        var mount = MountTable.Read().Where(m => dir == m.MountPoint || dir.StartsWith(m.MountPoint.TrimEnd('/') + "/", StringComparison.Ordinal))
            .MaxBy(m => m.MountPoint.Length);
        if (mount is null || !mount.FsType.StartsWith("fuse", StringComparison.Ordinal)) return false;
        return Path.GetRelativePath(mount.MountPoint, dir).StartsWith("staging/", StringComparison.Ordinal);
    }

    private static string? Read(byte[] path, string name)
    {
        try { return Posix.GetXattr(path, Encoding.ASCII.GetBytes(name)) is { } v ? Encoding.UTF8.GetString(v) : null; }
        catch (IOException) { return null; }
    }
}
