using System.Text;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>What every node of one mount's tree needs: the datastore, the shared chunk cache, timeouts and the error log.</summary>
public sealed class TreeContext
{
    public DataStore Store { get; }
    public CachedChunkSource Chunks { get; }
    public TreeOptions Options { get; }
    public MountErrorLog Errors { get; }
    /// <summary>Failures to errnos, for the few places that answer for an entry without failing the request.</summary>
    public ErrnoMapper Errnos { get; }
    /// <summary>The node of the writable staging area at MOUNTPOINT/staging, when the mount has one.</summary>
    public Node? StagingRoot { get; init; }
    /// <summary>Guards the directories' child caches (metadata only, not the read path).</summary>
    public Lock ChildCacheLock { get; } = new();
    /// <summary>The plain cache plus one per encryption key in use.</summary>
    public ChunkSourceSet ChunkSources { get; }
    /// <summary>Keeps the local copy in step with the bucket (S3 stores), or null.</summary>
    public IMetadataFollower? Follower { get; init; }
    /// <summary>Set when mounted: tells the kernel about entries a follower added or removed.</summary>
    public IKernelNotifier? Notifier { get; set; }

    public TreeContext(DataStore store, CachedChunkSource chunks, TreeOptions options, MountErrorLog errors, ChunkSourceSet? chunkSources = null)
    {
        Store = store;
        Chunks = chunks;
        Options = options;
        Errors = errors;
        Errnos = new ErrnoMapper(errors);
        ChunkSources = chunkSources ?? new ChunkSourceSet(store.Chunks, chunks, 64L * 1024 * 1024);
    }

    /// <summary>
    /// Brings a datastore-level directory up to date from the bucket (when following one) before it
    /// is listed. Changed names are dropped from the kernel's caches afterwards, on another
    /// thread: the kernel may hold this directory's lock until the current request is answered.
    /// </summary>
    public async ValueTask FollowAsync(FollowedDirectory kind, string relativePath, DirectoryNode dir, CancellationToken ct)
    {
        if (Follower is null) return;
        var changes = await Follower.RefreshAsync(kind, relativePath, ct).ConfigureAwait(false);
        ulong dirId = dir.NodeId;
        if (!changes.Any || Notifier is not { } notifier || dirId == 0) return;
        _ = Task.Run(() =>
        {
            foreach (var name in changes.Removed)
            {
                var bytes = Encoding.UTF8.GetBytes(name);
                if (dir.CachedChild(bytes) is { NodeId: > 0 } child) notifier.DeleteEntry(dirId, child.NodeId, bytes);
                else notifier.InvalidateEntry(dirId, bytes);
            }
            foreach (var name in changes.Added) notifier.InvalidateEntry(dirId, Encoding.UTF8.GetBytes(name));
            if (kind == FollowedDirectory.Group) notifier.InvalidateEntry(dirId, "latest"u8);
            notifier.InvalidateNode(dirId, -1);
        });
    }

    public static NodeAttributes DirectoryAttributes(ulong inode, Timestamp mtime, uint mode = 0x16D /* 0555 */) => new()
    {
        Inode = inode,
        Mode = FileModes.Directory | mode,
        LinkCount = 2,
        ModificationTime = mtime,
        ChangeTime = mtime,
        AccessTime = mtime,
    };

    public static NodeAttributes FileAttributes(ulong inode, long size, Timestamp mtime, uint mode = 0x124 /* 0444 */) => new()
    {
        Inode = inode,
        Mode = FileModes.Regular | mode,
        LinkCount = 1,
        Size = (ulong)size,
        ModificationTime = mtime,
        ChangeTime = mtime,
        AccessTime = mtime,
    };

    /// <summary>
    /// Attributes of a whole archive shown as a file (an image, a raw stream, a blob): mode
    /// <see cref="TreeOptions.ImageMode"/> (0400 unless asked otherwise), owned by the user running the
    /// mount. With --allow-other the kernel checks these, so other users cannot read a whole disk image;
    /// files inside pxar trees keep their archived owner and mode instead.
    /// </summary>
    public NodeAttributes WholeArchiveAttributes(ulong inode, long size, Timestamp mtime)
    {
        var a = FileAttributes(inode, size, mtime, Options.ImageMode & 0x1FF);
        a.Uid = MountOwner.Uid;
        a.Gid = MountOwner.Gid;
        return a;
    }

    public static Timestamp DirectoryTime(string fullPath)
    {
        try { return Timestamp.FromDateTimeOffset(Directory.GetLastWriteTimeUtc(fullPath)); }
        catch (IOException) { return default; }
    }
}

/// <summary>Mount options that shape the tree.</summary>
public sealed record TreeOptions
{
    /// <summary>Entry/attribute cache time for datastore-level directories (new snapshots show up after this).</summary>
    public TimeSpan ChangingTimeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Entry/attribute cache time inside snapshots (immutable).</summary>
    public TimeSpan ImmutableTimeout { get; init; } = TimeSpan.FromHours(1);
    /// <summary>Chunks fetched ahead of a sequential reader.</summary>
    public int ReadaheadChunks { get; init; } = 6;
    /// <summary>Show each archive's raw stream as "&lt;archive&gt;.raw" next to it.</summary>
    public bool ShowRawArchives { get; init; }
    /// <summary>Permission bits of whole archives in the mount (images, raw streams, blobs); default 0400, owner only.</summary>
    public uint ImageMode { get; init; } = DefaultImageMode;
    public const uint DefaultImageMode = 0x100; // 0400
    /// <summary>Keys for encrypted and signed snapshots; each snapshot uses the one its manifest names.</summary>
    public KeyRing Keys { get; init; } = KeyRing.Empty;
}

/// <summary>The user running the mount: owner of the files that are whole archives.</summary>
internal static partial class MountOwner
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint geteuid();
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "getegid")]
    private static partial uint getegid();
    public static readonly uint Uid = geteuid();
    public static readonly uint Gid = getegid();
}
