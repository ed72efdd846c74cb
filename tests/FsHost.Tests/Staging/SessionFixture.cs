using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>
/// A staging session on a real local datastore in a temp directory, driven through its API (no
/// kernel): helpers that create, write and read back, and a base snapshot made from a local tree.
/// </summary>
public sealed class SessionFixture : IDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);
    private readonly TempDir _tmp = new();
    private readonly CachedChunkSource _chunks;
    private readonly List<StagingSession> _sessions = [];

    public SessionFixture(StagingOptions? options = null)
    {
        Store = DataStore.CreateLocal(_tmp.Sub("ds"));
        _chunks = new CachedChunkSource(new DecodingChunkSource(Store.Chunks), 16L << 20);
        Options = options ?? new StagingOptions { CommitDelay = TimeSpan.FromHours(1) };
        Context = new StagingContext(Store, _chunks, Options, _ => { });
        Parent = new StagedInode(null, StagedRole.Virtual, 0, FileModes.Directory | 0x1ED);
    }

    public DataStore Store { get; }
    public StagingOptions Options { get; }
    public StagingContext Context { get; }
    public StagedInode Parent { get; }
    public BackupGroup Group { get; } = new(BackupNamespace.Root, BackupType.Host, "t");
    public string Temp(string name) => _tmp.Sub(name);

    /// <summary>Opens (or resumes from its journal) the group's session.</summary>
    public StagingSession Open(StagingContext? context = null)
    {
        var s = Run(StagingSession.OpenAsync(context ?? Context, Group, new StagedLink(Parent, "t"u8.ToArray()), CancellationToken.None));
        _sessions.Add(s);
        return s;
    }

    /// <summary>Commits a local directory as the group's next snapshot (a base for sessions).</summary>
    public SnapshotRef CommitLocal(string directory) =>
        Run(SplitSnapshotCommit.CommitAsync(Store, Group, new LocalTreeSource(directory), _chunks)).Snapshot;

    public static T Run<T>(Task<T> task) => task.WaitAsync(Bound).GetAwaiter().GetResult();
    public static T Run<T>(ValueTask<T> task) => Run(task.AsTask());
    public static void Run(Task task) => task.WaitAsync(Bound).GetAwaiter().GetResult();
    public static void Run(ValueTask task) => Run(task.AsTask());

    public static byte[] N(string name) => System.Text.Encoding.UTF8.GetBytes(name);

    public static StagedInode Ok(VfsResult<StagedInode> r) => r.IsOk ? r.Value : throw new Xunit.Sdk.XunitException($"expected success, got {r.Error}");

    public static StagedInode Lookup(StagingSession s, StagedInode dir, string name) => Ok(Run(s.LookupAsync(dir, N(name), CancellationToken.None)));

    public static StagedInode Mkdir(StagingSession s, StagedInode dir, string name) =>
        Ok(Run(s.MakeDirectoryAsync(dir, N(name), 0x1ED, 0x12, 0, 0, CancellationToken.None)));

    /// <summary>Creates name in dir with the content.</summary>
    public static StagedInode WriteFile(StagingSession s, StagedInode dir, string name, byte[] content)
    {
        var inode = Ok(Run(s.CreateFileAsync(dir, N(name), 0x1A4, 0x12, 0, 0, CancellationToken.None)));
        Overwrite(s, inode, content);
        return inode;
    }

    /// <summary>Opens with O_TRUNC, writes the content, releases.</summary>
    public static void Overwrite(StagingSession s, StagedInode inode, byte[] content)
    {
        var h = Run(s.OpenAsync(inode, 2 | 0x200, CancellationToken.None));
        Assert.True(h.IsOk, $"open: {h.Error}");
        Assert.Equal(Errno.Ok, s.Write(h.Value, 0, content));
        Run(s.ReleaseAsync(h.Value, CancellationToken.None));
    }

    public static byte[] Read(StagingSession s, StagedInode inode)
    {
        var h = Run(s.OpenAsync(inode, 0, CancellationToken.None));
        Assert.True(h.IsOk, $"open: {h.Error}");
        try
        {
            var buffer = new byte[inode.Size];
            int n = Run(h.Value.ReadAsync(0, buffer, CancellationToken.None));
            return buffer[..n];
        }
        finally { Run(h.Value.ReleaseAsync(s)); }
    }

    /// <summary>Every path with its type, mode, owner, size, link count, content hash and xattrs: what two trees must agree on.</summary>
    public static string Describe(StagingSession s)
    {
        var lines = new List<string>();
        var pending = new Stack<(string, StagedInode)>([("", s.Root)]);
        while (pending.TryPop(out var item))
        {
            var (path, inode) = item;
            var children = inode.IsDirectory ? Run(s.ListAsync(inode, CancellationToken.None)).Value : []; // listed first: a base directory counts its subdirectories then
            var xattrs = Run(s.GetXattrsAsync(inode, CancellationToken.None)).Select(x => System.Text.Encoding.ASCII.GetString(x.Name) + "=" + Convert.ToHexString(x.Value)).Order();
            string content = inode.IsRegular ? Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Read(s, inode)))[..16] : "";
            var a = inode.Attributes();
            lines.Add($"{path} {Convert.ToString(a.Mode, 8)} {a.Uid}:{a.Gid} size={a.Size} links={a.LinkCount} mtime={a.ModificationTime.Seconds}.{a.ModificationTime.Nanoseconds} {content} {string.Join(' ', xattrs)}");
            foreach (var (name, child) in children)
                pending.Push((path + "/" + System.Text.Encoding.UTF8.GetString(name), child));
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }

    public void Dispose()
    {
        foreach (var s in _sessions) s.Dispose();
        Run(Context.StopPreparerAsync());
        _chunks.Dispose();
        _tmp.Dispose();
    }
}

internal static class HandleRelease
{
    public static ValueTask ReleaseAsync(this StagedFileHandle handle, StagingSession session) => session.ReleaseAsync(handle, CancellationToken.None);
}
