using System.Text;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// A finished snapshot: index.json (the decoded manifest), decoded blobs without ".blob",
/// images without ".fidx", pxar archives as directories ("root.pxar/", also for a split
/// .mpxar/.ppxar pair), other streams as raw files. A malformed manifest makes only this
/// directory unreadable (EIO).
/// </summary>
public sealed class SnapshotDirNode : DirectoryNode
{
    private readonly TreeContext _ctx;
    private readonly object _openLock = new();
    private SnapshotReader? _reader;
    public SnapshotRef Snapshot { get; }

    public SnapshotDirNode(TreeContext ctx, DirectoryNode parent, SnapshotRef snapshot) : base(parent, Encoding.ASCII.GetBytes(snapshot.TimeName))
    {
        _ctx = ctx;
        Snapshot = snapshot;
    }

    public override ulong StableInode => StableInodes.Of("snap:" + Snapshot.RelativePath);
    public override bool Immutable => true;

    /// <exception cref="FormatCorruptException">malformed manifest</exception>
    public SnapshotReader Reader
    {
        get
        {
            lock (_openLock) return _reader ??= SnapshotReader.Open(_ctx.Store, Snapshot, _ctx.Chunks, _ctx.Options.Keys, _ctx.ChunkSources);
        }
    }

    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(TreeContext.DirectoryAttributes(StableInode, new Timestamp(Snapshot.BackupTime, 0)));

    public override async ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct)
    {
        // Following a bucket: the indexes and blobs come into the local copy when the snapshot is first opened.
        if (_ctx.Follower is { } follower) await follower.EnsureSnapshotFilesAsync(Snapshot, ct).ConfigureAwait(false);
        var reader = Reader;
        var children = new List<TreeNode>
        {
            Child("index.json"u8.ToArray(), () => new BytesFileNode(this, "index.json", () => Reader.Manifest.ToJson(), Snapshot.BackupTime)),
        };
        var names = reader.FileNames.ToList();
        if (File.Exists(Path.Combine(reader.Directory, "client.log.blob")) && !names.Contains("client.log.blob")) names.Add("client.log.blob");
        foreach (var file in names)
        {
            if (file.EndsWith(".blob", StringComparison.Ordinal))
            {
                var shown = file[..^".blob".Length];
                children.Add(Child(Encoding.UTF8.GetBytes(shown), () => new BytesFileNode(this, shown, () => Reader.ReadBlob(file), Snapshot.BackupTime, _ctx)));
            }
            else if (file.EndsWith(".fidx", StringComparison.Ordinal))
                children.Add(Child(Encoding.UTF8.GetBytes(file[..^5]), () => new ArchiveFileNode(_ctx, this, file[..^5], file)));
            else if (file.EndsWith(".pxar.didx", StringComparison.Ordinal) || file.EndsWith(".mpxar.didx", StringComparison.Ordinal))
            {
                var shown = file.EndsWith(".mpxar.didx", StringComparison.Ordinal) ? file[..^".mpxar.didx".Length] + ".pxar" : file[..^5];
                children.Add(Child(Encoding.UTF8.GetBytes(shown), () => new PxarDirNode(new PxarArchive(_ctx, this, shown), this, null)));
                if (_ctx.Options.ShowRawArchives)
                    children.Add(Child(Encoding.UTF8.GetBytes(shown + ".raw"), () => new ArchiveFileNode(_ctx, this, shown + ".raw", file)));
            }
            else if (file.EndsWith(".ppxar.didx", StringComparison.Ordinal))
                continue; // the payload half of a split archive, served through its .pxar directory
            else if (file.EndsWith(".didx", StringComparison.Ordinal))
                children.Add(Child(Encoding.UTF8.GetBytes(file[..^5]), () => new ArchiveFileNode(_ctx, this, file[..^5], file)));
        }
        children.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return children;
    }

    /// <summary>user.backupfs.protected and user.backupfs.verify-state (from the manifest's unprotected part).</summary>
    public override async ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct)
    {
        if (_ctx.Follower is { } follower) await follower.EnsureSnapshotFilesAsync(Snapshot, ct).ConfigureAwait(false);
        var list = new List<(byte[], byte[])>
        {
            ("user.backupfs.protected"u8.ToArray(), _ctx.Store.GetSnapshotInfo(Snapshot).Protected ? "1"u8.ToArray() : "0"u8.ToArray()),
        };
        if (Reader.Manifest.Unprotected["verify_state"] is JsonObject verify && verify["state"]?.GetValue<string>() is { } state)
            list.Add(("user.backupfs.verify-state"u8.ToArray(), Encoding.UTF8.GetBytes(state)));
        return list;
    }
}
