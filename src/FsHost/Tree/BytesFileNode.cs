using System.Text;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>A small file held in memory once read: index.json and decoded blobs.</summary>
public sealed class BytesFileNode : FileNode
{
    private readonly Func<byte[]> _load;
    private readonly long _mtime;
    private readonly string _id;
    private readonly TreeContext? _wholeArchive;
    private byte[]? _content;

    /// <param name="wholeArchive">set for a decoded blob (an archive of the snapshot): shown with the image mode; null for index.json</param>
    public BytesFileNode(SnapshotDirNode parent, string name, Func<byte[]> load, long mtime, TreeContext? wholeArchive = null) : base(parent, Encoding.UTF8.GetBytes(name))
    {
        _wholeArchive = wholeArchive;
        _load = load;
        _mtime = mtime;
        _id = parent.Snapshot.RelativePath + "/" + name;
    }

    public override ulong StableInode => StableInodes.Of("file:" + _id);
    public override bool Immutable => true;

    private byte[] Content => _content ??= _load();

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(_wholeArchive?.WholeArchiveAttributes(StableInode, Content.Length, new Timestamp(_mtime, 0))
            ?? TreeContext.FileAttributes(StableInode, Content.Length, new Timestamp(_mtime, 0)));

    public override ValueTask<IOpenFile> OpenReaderAsync(CancellationToken ct) => ValueTask.FromResult<IOpenFile>(new Handle(Content));

    private sealed class Handle(byte[] content) : IOpenFile, IFileReader
    {
        public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
        {
            if (offset >= content.Length) return ValueTask.FromResult(0);
            int n = (int)Math.Min(destination.Length, content.Length - offset);
            content.AsSpan((int)offset, n).CopyTo(destination.Span);
            return ValueTask.FromResult(n);
        }
        public ValueTask<Errno> ReleaseAsync() => ValueTask.FromResult(Errno.Ok);
    }
}
