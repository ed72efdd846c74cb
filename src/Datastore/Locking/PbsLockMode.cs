namespace BackupFs.Datastore.Locking;

/// <summary>Where group, snapshot and manifest locks live (decided per host, as PBS decides it).</summary>
public enum PbsLockMode
{
    /// <summary>PBS ≥ 3.4: flock files below /run/proxmox-backup/locks/&lt;store&gt;/.</summary>
    RunDirectory,
    /// <summary>PBS's old mode (the old-locking marker): the group and snapshot directories themselves are flock-ed, manifest locks below the run directory.</summary>
    OldInDirectory,
    /// <summary>No PBS on this host: the directories are flock-ed as in the old mode, manifest locks live in .backupfs/locks/.</summary>
    NoPbs,
}
