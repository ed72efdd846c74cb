using BackupFs.Datastore.Formats;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Fuse.Interop;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// What `backupfs mount` checks in the foreground before a background mount detaches: the mount
/// point, that the store opens (for S3: its config and credentials), and that every key file loads.
/// What is left for the mount process is the mount itself (FUSE, fusermount3's rules).
/// </summary>
public static class MountPreflight
{
    private const int WOk = 2, XOk = 1;

    /// <summary>The mount point's full path once it is an existing directory this user can mount on; clears a stale mount with --force.</summary>
    /// <exception cref="BackupFsException">missing, not a directory, not usable, already mounted, or stale without --force</exception>
    public static string CheckMountPoint(string path, bool force)
    {
        var mnt = Path.GetFullPath(path);
        if (MountTable.IsStale(mnt))
        {
            if (!force)
                throw new BackupFsException($"{mnt} is a stale mount (Transport endpoint is not connected): run 'backupfs umount {mnt}' or mount with --force");
            MountTable.ClearStale(mnt);
        }
        else if (MountTable.IsFuseMounted(mnt)) throw new BackupFsException($"{mnt} is already mounted");
        if (File.Exists(mnt)) throw new BackupFsException($"mount point {mnt} is a file, not a directory");
        if (!Directory.Exists(mnt)) throw new BackupFsException($"mount point {mnt} does not exist");
        // fusermount3 lets a user mount only where they may write; root may mount anywhere.
        if (LibC.Access(mnt, FuseMounter.IsRoot ? XOk : WOk | XOk) != 0)
            throw new BackupFsException($"mount point {mnt} is not usable: {(FuseMounter.IsRoot ? "cannot enter it" : "this user may not write to it")}");
        return mnt;
    }

    /// <summary>Opens the store as the mount will and lets it go again.</summary>
    /// <exception cref="BackupFsException">no datastore there, or an S3 store whose config or credentials fail</exception>
    public static void CheckStore(string path, bool readOnly, double? s3TimeoutSeconds)
    {
        var (_, s3) = StoreOpener.OpenS3Aware(path, new S3.S3OpenOptions
        {
            ReadOnly = readOnly,
            TimeoutSeconds = s3TimeoutSeconds,
            AdoptCachedChunks = false, // the mount process scans the chunk cache; this check only opens
        });
        s3?.Dispose();
    }

    /// <summary>Loads every key file, with the passphrases already asked for (copies: loading clears them).</summary>
    /// <exception cref="Datastore.Crypto.CryptoException">a key file that does not load</exception>
    public static void CheckKeys(IReadOnlyList<string> keyPaths, IReadOnlyList<byte[]> passphrases) =>
        KeyOptions.Load(keyPaths, passphrases.Select(p => (byte[])p.Clone()).ToList());
}
