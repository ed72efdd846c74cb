namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// One snapshot of a backup group as prune sees it.
/// BackupTime: the snapshot time in Unix seconds (UTC), as in the snapshot directory name.
/// Protected: the snapshot has the .protected marker.
/// Finished: the snapshot has its manifest (index.json.blob); PBS treats one without it as unfinished.
/// </summary>
public readonly record struct PruneCandidate(long BackupTime, bool Protected, bool Finished = true);
