using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Writing;

/// <summary>One entry of a tree to archive, as a <see cref="ISnapshotTreeSource"/> describes it.</summary>
public sealed class SourceNode
{
    public required byte[] Name { get; init; }
    public required PxarStat Stat { get; init; }
    public PxarMetadata Metadata { get; init; } = new();
    /// <summary>Regular files: content size.</summary>
    public long Size { get; init; }
    public byte[]? SymlinkTarget { get; init; }
    public ulong DeviceMajor { get; init; }
    public ulong DeviceMinor { get; init; }
    /// <summary>Regular files with several names: equal keys are one inode (archived once, then as hardlinks).</summary>
    public object? HardlinkKey { get; init; }
    /// <summary>The source's own reference to the entry (a path, a node id).</summary>
    public object? Handle { get; init; }
}

/// <summary>A tree the split archive writer walks: a local directory, or a staging session's overlay.</summary>
public interface ISnapshotTreeSource
{
    SourceNode Root { get; }
    /// <summary>The directory's children in any order (the writer sorts them by name bytes).</summary>
    ValueTask<IReadOnlyList<SourceNode>> ListAsync(SourceNode directory, CancellationToken ct);
    /// <summary>A regular file's content (<see cref="SourceNode.Size"/> bytes). Only called for files that are not reused.</summary>
    ValueTask<Stream> OpenAsync(SourceNode file, CancellationToken ct);
    /// <summary>The file's payload item already cut and stored (see <see cref="PreparedPayload"/>), if the source has it for exactly this content.</summary>
    PreparedPayload? PreparedPayloadOf(SourceNode file) => null;
}
