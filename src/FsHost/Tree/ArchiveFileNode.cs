using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// An image (.img.fidx) or a raw stream (.didx) as a random-access file of its full size. Each
/// open gets its own readahead, over the shared chunk cache.
/// </summary>
public sealed class ArchiveFileNode : FileNode
{
    private readonly TreeContext _ctx;
    private readonly SnapshotDirNode _snapshot;
    private readonly string _fileName;
    private IChunkIndex? _index;

    public ArchiveFileNode(TreeContext ctx, SnapshotDirNode snapshot, string shownName, string fileName) : base(snapshot, Encoding.UTF8.GetBytes(shownName))
    {
        _ctx = ctx;
        _snapshot = snapshot;
        _fileName = fileName;
    }

    public override ulong StableInode => StableInodes.Of("archive:" + _snapshot.Snapshot.RelativePath + "/" + Encoding.UTF8.GetString(Name));
    public override bool Immutable => true;

    /// <exception cref="FormatCorruptException">the index is malformed or does not match the manifest</exception>
    private IChunkIndex Index => _index ??= _snapshot.Reader.OpenIndex(_fileName);

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(_ctx.WholeArchiveAttributes(StableInode, Index.Size, new Timestamp(_snapshot.Snapshot.BackupTime, 0)));

    public override ValueTask<IOpenFile> OpenReaderAsync(CancellationToken ct) =>
        ValueTask.FromResult<IOpenFile>(new Handle(new PrefetchingReader(Index, _snapshot.Reader.ChunksFor(_fileName, _ctx.Chunks), _ctx.Options.ReadaheadChunks)));

    private sealed class Handle(PrefetchingReader reader) : IOpenFile, IFileReader, IFileSliceReader
    {
        public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct) => reader.ReadAtAsync(offset, destination, ct);
        public ValueTask<int> ReadSlicesAsync(long offset, ReadSlices into, CancellationToken ct) =>
            reader.ReadSlicesAsync(offset, into.Capacity - into.Length, into, ct);
        public ValueTask<Errno> ReleaseAsync() => ValueTask.FromResult(Errno.Ok);
    }
}
