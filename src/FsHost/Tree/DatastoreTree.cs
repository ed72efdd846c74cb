using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Staging.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// A datastore as a mount: the snapshot tree (namespaces, groups, snapshots, their manifests,
/// blobs, images and pxar trees) with the writable staging area at "staging/", served by a
/// <see cref="NodeHost"/>. Knows nothing of FUSE. This is the mount-level part: it hands the
/// kernel notifier to both trees, starts and closes the staging area, and frees the keyed
/// chunk caches with the host.
/// </summary>
public sealed class DatastoreTree : IMountLifecycle
{
    private readonly TreeContext _ctx;
    private readonly StagingArea? _staging;
    private readonly StagingNodes? _stagingNodes;

    private DatastoreTree(TreeContext ctx, StagingArea? staging, StagingNodes? stagingNodes)
    {
        _ctx = ctx;
        _staging = staging;
        _stagingNodes = stagingNodes;
    }

    /// <param name="staging">the writable staging area; null for a read-only mount</param>
    /// <param name="follower">keeps the local copy in step with the bucket (S3 stores); null to serve the local copy as it is</param>
    public static NodeHost Create(DataStore store, CachedChunkSource chunks, TreeOptions? options = null, MountErrorLog? errors = null, StagingArea? staging = null,
        ChunkSourceSet? chunkSources = null, IMetadataFollower? follower = null)
    {
        errors ??= new MountErrorLog();
        var stagingNodes = staging is null ? null : new StagingNodes(staging);
        var ctx = new TreeContext(store, chunks, options ?? new TreeOptions(), errors, chunkSources) { StagingRoot = stagingNodes?.Root, Follower = follower };
        var root = new NamespaceDirNode(ctx, null, [], BackupNamespace.Root);
        return new NodeHost(root, errors, new DatastoreTree(ctx, staging, stagingNodes));
    }

    public void Mounted(IKernelNotifier notifier)
    {
        _ctx.Notifier = notifier;
        if (_stagingNodes is not null) _stagingNodes.Notifier = notifier;
        _staging?.Start();
    }

    /// <summary>Unmount: staging sessions with changes are committed before the process goes.</summary>
    public void Unmounting()
    {
        if (_staging is { } area) area.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Staging gives new entries their directory's default ACL, so it needs the unmasked create mode.</summary>
    public bool AppliesUmask => _staging is not null;

    /// <summary>Under the kernel's writeback cache staged writes leave the times to the kernel.</summary>
    public void KernelKeepsWriteTimes(bool keeps)
    {
        if (_staging is { } area) area.Context.KernelKeepsWriteTimes = keeps;
    }

    /// <summary>Passthrough agreed: staged files with a spool file are read and written by the kernel straight from it.</summary>
    public void KernelPassesThrough(bool passesThrough)
    {
        if (_staging is { } area) area.Context.KernelPassesThrough = passesThrough;
    }

    public void Dispose() => _ctx.ChunkSources.Dispose(); // the keyed caches (idempotent; the plain cache is the caller's)
}
