namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>The control attributes of a session directory (what `backupfs commit` sets and reads).</summary>
public static class StagingControlXattrs
{
    public const string CommitXattr = "user.backupfs.commit";
    public const string DiscardXattr = "user.backupfs.discard";
    public const string SnapshotXattr = "user.backupfs.snapshot";
    public const string LastCommitXattr = "user.backupfs.last-commit";
    public const string ErrorXattr = "user.backupfs.error";
}
