namespace BackupFs.Datastore.Layout;

/// <summary>A snapshot found on disk: finished means its manifest exists (PBS writes it last).</summary>
public sealed record SnapshotInfo(SnapshotRef Snapshot, bool Finished, bool Protected, IReadOnlyList<string> Files);
