using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Maintenance;

public enum VerifyOutcome
{
    Ok,
    Failed,
    /// <summary>Not verified: unfinished (backup running or aborted), removed meanwhile, or locked by a removal.</summary>
    Skipped,
}

/// <summary>
/// One snapshot's verify result. Chunks: distinct chunks its indexes reference. Corrupt/Missing:
/// how many of those are bad (a chunk found bad for an earlier snapshot of the same run counts
/// again here). Errors: one line per failed file (or the reason for skipping).
/// StateRecorded: verify_state was written to its manifest.
/// </summary>
public sealed record SnapshotVerifyResult(
    SnapshotRef Snapshot,
    VerifyOutcome Outcome,
    int Chunks,
    int CorruptChunks,
    int MissingChunks,
    IReadOnlyList<string> Errors,
    bool StateRecorded)
{
    /// <summary>What could not be checked (e.g. encrypted data verified without its key).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>A chunk verify moved aside, and where to.</summary>
public sealed record RenamedChunk(Digest Digest, string NewLocation);

/// <summary>The result of a verify run over one or more snapshots.</summary>
public sealed record VerifyReport(
    string Upid,
    IReadOnlyList<SnapshotVerifyResult> Snapshots,
    long DistinctChunksChecked,
    long DecodedBytes,
    IReadOnlyList<RenamedChunk> RenamedChunks)
{
    public int FailedCount => Snapshots.Count(s => s.Outcome == VerifyOutcome.Failed);
    public int OkCount => Snapshots.Count(s => s.Outcome == VerifyOutcome.Ok);
    public int SkippedCount => Snapshots.Count(s => s.Outcome == VerifyOutcome.Skipped);
    public bool AllOk => FailedCount == 0;
}
