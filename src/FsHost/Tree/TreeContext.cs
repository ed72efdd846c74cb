using System.IO.Hashing;
using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>What every node needs: the datastore, the shared chunk cache, timeouts and the error log.</summary>
public sealed class TreeContext
{
    public DataStore Store { get; }
    public CachedChunkSource Chunks { get; }
    public TreeOptions Options { get; }
    public TreeErrorLog Errors { get; }
    /// <summary>The writable staging area at MOUNTPOINT/staging, when the mount has one.</summary>
    public Staging.StagingArea? Staging { get; init; }

    public TreeContext(DataStore store, CachedChunkSource chunks, TreeOptions options, TreeErrorLog errors)
    {
        Store = store;
        Chunks = chunks;
        Options = options;
        Errors = errors;
    }

    /// <summary>A stable inode number for a datastore-level path (or an archive entry, with its offset).</summary>
    public static ulong InodeOf(string path, long entryIdentity = -1) => InodeOf(Encoding.UTF8.GetBytes(path), entryIdentity);

    /// <summary>The same number from the path's UTF-8 bytes.</summary>
    public static ulong InodeOf(ReadOnlySpan<byte> path, long entryIdentity = -1)
    {
        ulong h = XxHash64.HashToUInt64(path, entryIdentity);
        return h <= NodeTable.RootId ? h + 2 : h; // 1 is the root's
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
}

/// <summary>One stderr line per failure, at most a few per second, so a broken archive cannot flood the log.</summary>
public sealed class TreeErrorLog
{
    private readonly Action<string> _sink;
    private long _windowStart;
    private int _inWindow;

    public TreeErrorLog(Action<string>? sink = null) => _sink = sink ?? (m => Console.Error.WriteLine(m));

    public void Report(string what, Exception e)
    {
        // The backend logs its own outages (one line when it stops answering, one when it answers
        // again); repeating that for every read that failed meanwhile would flood the log.
        if (e is IBackendUnreachable) return;
        long now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _windowStart) > 1000)
        {
            Interlocked.Exchange(ref _windowStart, now);
            Interlocked.Exchange(ref _inWindow, 0);
        }
        if (Interlocked.Increment(ref _inWindow) <= 5) _sink($"backupfs: {what}: {e.Message}");
    }
}
