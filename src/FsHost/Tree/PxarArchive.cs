using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// One pxar archive of a snapshot, opened on first use: the random-access accessor (v1 or split
/// pair) and the hardlink counts (pxar stores none; one walk of the metadata finds them).
/// </summary>
public sealed class PxarArchive
{
    private readonly TreeContext _ctx;
    private readonly SnapshotDirNode _snapshot;
    private readonly SemaphoreSlim _open = new(1, 1);
    private PxarAccessor? _accessor;
    private Task<Dictionary<long, int>>? _linkCounts;

    private readonly byte[] _inodeScopeBytes;

    public string ArchiveName { get; }
    public string InodeScope { get; }

    public PxarArchive(TreeContext ctx, SnapshotDirNode snapshot, string archiveName)
    {
        _ctx = ctx;
        _snapshot = snapshot;
        ArchiveName = archiveName;
        InodeScope = "pxar:" + snapshot.Snapshot.RelativePath + "/" + archiveName;
        _inodeScopeBytes = System.Text.Encoding.UTF8.GetBytes(InodeScope);
    }

    public long BackupTime => _snapshot.Snapshot.BackupTime;

    public async ValueTask<PxarAccessor> AccessorAsync(CancellationToken ct)
    {
        if (_accessor is { } ready) return ready;
        await _open.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_accessor is null)
            {
                var accessor = await PxarArchiveOpener.OpenAsync(_snapshot.Reader, _ctx.Chunks, ArchiveName, ct).ConfigureAwait(false);
                // Count hardlinks beside the first listing instead of in front of it: the walk reads
                // the whole metadata stream, which the listing that follows needs anyway.
                _linkCounts = Task.Run(() => PxarHardlinkCounter.CountAsync(accessor, CancellationToken.None).AsTask());
                _accessor = accessor;
            }
            return _accessor;
        }
        finally { _open.Release(); }
    }

    /// <summary>Link count of a regular file (1 unless hardlinks point at it).</summary>
    public async ValueTask<uint> LinkCountAsync(PxarEntry file, CancellationToken ct)
    {
        var accessor = await AccessorAsync(ct).ConfigureAwait(false);
        var counts = await (_linkCounts ??= PxarHardlinkCounter.CountAsync(accessor, CancellationToken.None).AsTask()).ConfigureAwait(false);
        return counts.TryGetValue(file.Identity, out int n) ? (uint)n : 1;
    }

    public ulong InodeOf(PxarEntry entry) => entry.Identity == 0 && entry.Name.Length == 0
        ? StableInodes.Of(InodeScope)
        : StableInodes.Of(_inodeScopeBytes, entry.Identity); // no per-entry encoding: readdir asks for thousands
}
