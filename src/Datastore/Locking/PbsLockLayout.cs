using System.Security.Cryptography;
using System.Text;
using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Locking;

/// <summary>
/// PBS's lock file names. Since PBS 3.4 group, snapshot and manifest locks are flock files below
/// <c>/run/proxmox-backup/locks/&lt;datastore name&gt;/</c>: one directory per namespace (components
/// joined by ':', none for the root), in it the systemd-escaped <c>type/id</c>,
/// <c>type/id/time</c> or <c>type/id/time/.index.json.lck</c>; an escaped name of 255 bytes or
/// more becomes <c>hashed/&lt;first 80&gt;...&lt;last 80&gt;-&lt;sha256 hex of the unescaped path&gt;</c>.
/// With <c>/run/proxmox-backup/old-locking</c> present PBS flocks the group and snapshot
/// directories instead and keeps manifest locks at
/// <c>&lt;root&gt;/&lt;store&gt;/&lt;snapshot path&gt;/&lt;time&gt;.index.json.lck</c>.
/// The root can be moved for tests with BACKUPFS_PBS_LOCK_DIR.
/// </summary>
public static class PbsLockLayout
{
    public const string DefaultLockRoot = "/run/proxmox-backup/locks";
    public const string LockRootVariable = "BACKUPFS_PBS_LOCK_DIR";
    public const string ManifestLockName = ".index.json.lck";
    public const string OldLockingMarker = "old-locking";
    private const int MaxEscapedLength = 255;

    /// <summary>The lock root: BACKUPFS_PBS_LOCK_DIR, or /run/proxmox-backup/locks.</summary>
    public static string LockRoot
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(LockRootVariable);
            return Path.TrimEndingDirectorySeparator(Path.GetFullPath(string.IsNullOrEmpty(value) ? DefaultLockRoot : value));
        }
    }

    /// <summary>PBS's run directory, the lock root's parent (/run/proxmox-backup).</summary>
    public static string RunDirectory => Path.GetDirectoryName(LockRoot) ?? "/";

    /// <summary>
    /// The mode of this host: PBS's run directory exists (PBS is installed and running) → its mode,
    /// chosen by the old-locking marker as PBS chooses it; otherwise no PBS is here to exclude.
    /// </summary>
    public static PbsLockMode Mode
    {
        get
        {
            var run = RunDirectory;
            if (!Directory.Exists(run)) return PbsLockMode.NoPbs;
            return File.Exists(Path.Combine(run, OldLockingMarker)) ? PbsLockMode.OldInDirectory : PbsLockMode.RunDirectory;
        }
    }

    public static string GroupLockFile(string storeName, BackupGroup group) =>
        Path.Combine(LockRoot, storeName, RelativeLockPath(group.Namespace, $"{group.Type.ToName()}/{group.Id}"));

    public static string SnapshotLockFile(string storeName, SnapshotRef snapshot) =>
        Path.Combine(LockRoot, storeName, RelativeLockPath(snapshot.Group.Namespace, SnapshotPathInGroup(snapshot)));

    public static string ManifestLockFile(string storeName, SnapshotRef snapshot) =>
        Path.Combine(LockRoot, storeName, RelativeLockPath(snapshot.Group.Namespace, SnapshotPathInGroup(snapshot) + "/" + ManifestLockName));

    /// <summary>The manifest lock of the old mode: a directory per snapshot below the lock root.</summary>
    public static string OldManifestLockFile(string storeName, SnapshotRef snapshot) =>
        Path.Combine(LockRoot, storeName, snapshot.RelativePath, snapshot.TimeName + ManifestLockName);

    /// <summary>
    /// The lock path relative to &lt;root&gt;/&lt;store&gt;/ of <paramref name="path"/> ("type/id[/time[/file]]")
    /// in namespace <paramref name="ns"/>.
    /// </summary>
    public static string RelativeLockPath(BackupNamespace ns, string path)
    {
        var nsDir = string.Join(':', ns.Components);
        var escaped = SystemdEscape.EscapePath(path);
        if (escaped.Length < MaxEscapedLength) return nsDir.Length == 0 ? escaped : nsDir + "/" + escaped;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(path)));
        var name = $"{escaped[..80]}...{escaped[^80..]}-{hash}";
        return (nsDir.Length == 0 ? "" : nsDir + "/") + "hashed/" + name;
    }

    private static string SnapshotPathInGroup(SnapshotRef snapshot) =>
        $"{snapshot.Group.Type.ToName()}/{snapshot.Group.Id}/{snapshot.TimeName}";
}
