using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Writing;

/// <summary>A local directory tree read with lstat semantics (as <see cref="PxarTreeEncoder"/> reads it).</summary>
public sealed class LocalTreeSource : ISnapshotTreeSource
{
    private readonly Func<byte[], Stream> _open;

    /// <param name="open">opens a file by path (tests count reads through it); default opens it read-only without following symlinks</param>
    public LocalTreeSource(string directory, Func<byte[], Stream>? open = null)
    {
        _open = open ?? (static p => Posix.Open(p, OpenFlags.ReadOnly | OpenFlags.NoFollow, 0, FileAccess.Read));
        var root = Posix.PathBytes(Path.GetFullPath(directory).TrimEnd('/') is { Length: > 0 } p ? p : "/");
        var st = Posix.LStat(root);
        if (!st.IsDirectory) throw new ArgumentException($"{directory} is not a directory", nameof(directory));
        Root = Describe([], root, st);
    }

    public SourceNode Root { get; }

    public ValueTask<IReadOnlyList<SourceNode>> ListAsync(SourceNode directory, CancellationToken ct)
    {
        var dir = (byte[])directory.Handle!;
        var list = new List<SourceNode>();
        foreach (var name in Posix.ReadDirectory(dir))
        {
            ct.ThrowIfCancellationRequested();
            var path = PxarTreeEncoder.Join(dir, name);
            list.Add(Describe(name, path, Posix.LStat(path)));
        }
        return ValueTask.FromResult<IReadOnlyList<SourceNode>>(list);
    }

    public ValueTask<Stream> OpenAsync(SourceNode file, CancellationToken ct) => ValueTask.FromResult(_open((byte[])file.Handle!));

    private static SourceNode Describe(byte[] name, byte[] path, PosixStat st)
    {
        var stat = PxarTreeEncoder.ToStat(st);
        return new SourceNode
        {
            Name = name,
            Stat = stat,
            Metadata = PxarTreeEncoder.ReadMetadata(path, st),
            Size = st.Size,
            SymlinkTarget = stat.Kind == PxarEntryKind.Symlink ? Posix.ReadLink(path) : null,
            DeviceMajor = st.RdevMajor,
            DeviceMinor = st.RdevMinor,
            HardlinkKey = stat.Kind == PxarEntryKind.File && st.Nlink > 1 ? st.FileId : null,
            Handle = path,
        };
    }
}
