using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// Backing ids of passthrough opens: one id per node, shared by all its passthrough opens and
/// closed at the release of the last one (the kernel holds the file itself meanwhile). The kernel
/// allows one backing file per inode: an open naming another file (a staged file's new spool
/// generation while a reader still has the old one) is answered without passthrough.
/// </summary>
internal sealed class PassthroughFiles(FuseDevice device, Action<string> log)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, (int Id, int Opens, (ulong Dev, ulong Ino) File)> _byNode = new();
    private readonly HashSet<(ulong Node, ulong Handle)> _opens = new();
    private int _failureLogged;

    /// <summary>True once INIT agreed on passthrough.</summary>
    public bool Enabled { get; set; }

    /// <summary>Backing ids currently registered (tests).</summary>
    public int RegisteredCount { get { lock (_lock) return _byNode.Count; } }

    /// <summary>The backing id for an open of <paramref name="node"/> backed by <paramref name="file"/>,
    /// or 0 when this open goes through the filesystem instead.</summary>
    public int Opened(ulong node, ulong handle, SafeFileHandle file)
    {
        if (!Enabled || file.IsInvalid || file.IsClosed) return 0;
        (ulong, ulong) identity;
        try { identity = Datastore.Platform.Posix.FStat((int)file.DangerousGetHandle()).FileId; }
        catch (Datastore.Platform.PosixException) { return 0; }
        lock (_lock)
        {
            if (_byNode.TryGetValue(node, out var entry))
            {
                if (entry.File != identity) return 0;
            }
            else
            {
                var id = device.OpenBacking((int)file.DangerousGetHandle());
                if (id <= 0)
                {
                    if (Interlocked.Exchange(ref _failureLogged, 1) == 0)
                        log($"fuse: passthrough backing file refused (errno {-id}); such opens go through the filesystem");
                    return 0;
                }
                entry = (id, 0, identity);
            }
            if (!_opens.Add((node, handle))) return entry.Id; // the same open answered twice: counted once
            _byNode[node] = (entry.Id, entry.Opens + 1, entry.File);
            return entry.Id;
        }
    }

    /// <summary>RELEASE of an open: drops the node's backing id with its last passthrough open.</summary>
    public void Released(ulong node, ulong handle)
    {
        if (!Enabled) return;
        lock (_lock)
        {
            if (!_opens.Remove((node, handle)) || !_byNode.TryGetValue(node, out var entry)) return;
            if (entry.Opens > 1) { _byNode[node] = (entry.Id, entry.Opens - 1, entry.File); return; }
            _byNode.Remove(node);
            device.CloseBacking(entry.Id);
        }
    }
}
