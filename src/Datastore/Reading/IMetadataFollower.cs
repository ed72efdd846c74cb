using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Reading;

/// <summary>The kinds of datastore-level directories a follower keeps up to date.</summary>
public enum FollowedDirectory
{
    /// <summary>The root or a namespace: its type directories and "ns".</summary>
    Namespace,
    /// <summary>A namespace's "ns" directory: its child namespaces.</summary>
    NamespaceList,
    /// <summary>"vm", "ct" or "host" in a namespace: its groups.</summary>
    Type,
    /// <summary>A group: owner, notes, snapshots with their manifests and protection markers.</summary>
    Group,
}

/// <summary>What a refresh changed in a local directory (entry names as the directory shows them).</summary>
public sealed record FollowChanges(IReadOnlyList<string> Added, IReadOnlyList<string> Removed)
{
    public static readonly FollowChanges None = new([], []);
    public bool Any => Added.Count > 0 || Removed.Count > 0;
}

/// <summary>Requests a follower made (for the mount's statistics).</summary>
public readonly record struct FollowStats(long Lists, long Gets, long Refreshes, long Failures, long Writes);

/// <summary>
/// Keeps the local copy of a datastore's metadata (an S3 store's cache directory) in step with
/// where the datastore really lives while it is mounted: a directory is brought up to date when
/// someone lists it and its copy is older than a time-to-live; a snapshot's files are fetched
/// when it is first opened.
/// </summary>
public interface IMetadataFollower
{
    /// <summary>Brings one directory up to date if its time-to-live ran out; returns what changed.</summary>
    /// <exception cref="Formats.BackupFsException">the listing failed (this listing fails; the next access tries again)</exception>
    ValueTask<FollowChanges> RefreshAsync(FollowedDirectory kind, string relativePath, CancellationToken ct);

    /// <summary>Makes sure a finished snapshot's manifest, indexes and blobs are in the local copy.</summary>
    ValueTask EnsureSnapshotFilesAsync(SnapshotRef snapshot, CancellationToken ct);

    FollowStats Stats { get; }
}
