using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tree;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>A datastore mounted in-process under a temp dir; teardown always lazily unmounts.</summary>
public sealed class DatastoreMount : IDisposable
{
    private readonly TempDir _dir = new("backupfs-tree-");
    private readonly CachedChunkSource _chunks;
    public NodeHost Fs { get; }
    public FuseSession Session { get; }
    public string Root => Session.MountPoint;
    public List<string> Errors { get; } = new();

    /// <summary>The staging area, when the mount was made with staging options.</summary>
    public StagingArea? Staging { get; }
    /// <summary>Lines the staging area logged (commits, resumed sessions).</summary>
    public List<string> StagingLog { get; } = new();

    /// <param name="transport">FUSE transport and passthrough; default: the suite's transport (<see cref="FuseTransports.Default"/>), and passthrough as `backupfs mount` defaults to it (as root)</param>
    public DatastoreMount(DataStore store, TreeOptions? options = null, StagingOptions? staging = null, (FuseIoUring IoUring, bool Passthrough)? transport = null)
    {
        var mountPoint = _dir.Sub("mnt");
        Directory.CreateDirectory(mountPoint);
        _chunks = new CachedChunkSource(new DecodingChunkSource(store.Chunks), 64L * 1024 * 1024);
        if (staging is not null)
        {
            Staging = new StagingArea(new StagingContext(store, _chunks, staging, m => { lock (StagingLog) StagingLog.Add(m); }));
            Staging.RecoverAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        }
        Fs = DatastoreTree.Create(store, _chunks, options, new MountErrorLog(m => { lock (Errors) Errors.Add(m); }), Staging);
        // As `backupfs mount` does: passthrough as root, else the kernel writeback cache when staging is
        // on (INIT keeps the writeback cache only when passthrough is not agreed).
        bool passthrough = transport?.Passthrough ?? (staging is not null && Environment.IsPrivilegedProcess);
        Session = FuseSession.Mount(Fs, new FuseMountOptions(mountPoint) { Subtype = FuseEnvironment.Subtype, FsName = "backupfs-test" },
            new FuseSessionOptions
            {
                WritebackCache = staging is not null, Passthrough = passthrough,
                IoUring = transport?.IoUring ?? FuseTransports.Default,
            });
        if (!Session.Ready.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("INIT was not answered");
    }

    public string PathOf(string relative) => Path.Combine(Root, relative);

    public void Dispose()
    {
        try { Task.Run(Session.Dispose).Wait(TimeSpan.FromSeconds(20)); }
        finally
        {
            try { if (MountTable.IsFuseMounted(Root)) FuseMounter.Unmount(Root); } catch (IOException) { }
            Fs.Dispose();
            _chunks.Dispose();
            if (!MountTable.IsFuseMounted(Root)) _dir.Dispose();
        }
    }
}
