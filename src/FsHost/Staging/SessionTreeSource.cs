using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// A session's tree as the split archive writer walks it. The session's gate is held by the
/// commit for the whole walk, so the tree cannot change under it.
/// </summary>
internal sealed class SessionTreeSource : ISnapshotTreeSource
{
    private readonly StagingSession _session;

    private SessionTreeSource(StagingSession session, PxarMetadata rootMetadata)
    {
        _session = session;
        Root = Describe([], session.Root, rootMetadata);
    }

    public static async ValueTask<SessionTreeSource> CreateAsync(StagingSession session, CancellationToken ct) =>
        new(session, await session.MetadataLockedAsync(session.Root, ct).ConfigureAwait(false));

    public SourceNode Root { get; }

    public async ValueTask<IReadOnlyList<SourceNode>> ListAsync(SourceNode directory, CancellationToken ct)
    {
        var dir = (StagedInode)directory.Handle!;
        var children = await _session.ChildrenLockedAsync(dir, ct).ConfigureAwait(false);
        var list = new List<SourceNode>(children.Count);
        foreach (var (key, inode) in children)
            list.Add(Describe(StagedInode.NameOf(key), inode, await _session.MetadataLockedAsync(inode, ct).ConfigureAwait(false)));
        return list;
    }

    public ValueTask<Stream> OpenAsync(SourceNode file, CancellationToken ct) => _session.OpenContentLocked((StagedInode)file.Handle!);

    private static SourceNode Describe(byte[] name, StagedInode inode, PxarMetadata metadata) => new()
    {
        Name = name,
        Stat = new PxarStat(inode.Mode, 0, inode.Uid, inode.Gid, inode.ModificationTime.Seconds, inode.ModificationTime.Nanoseconds),
        Metadata = metadata,
        Size = inode.IsRegular ? inode.Size : 0,
        SymlinkTarget = inode.SymlinkTarget,
        DeviceMajor = inode.DeviceMajor,
        DeviceMinor = inode.DeviceMinor,
        HardlinkKey = inode.IsRegular && inode.LinkCount > 1 ? inode : null,
        Handle = inode,
    };
}
