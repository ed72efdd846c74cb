using System.Globalization;
using BackupFs.Datastore.Pxar;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// The spool files of one session (&lt;state&gt;/spool/&lt;number&gt;[.&lt;generation&gt;]): the content
/// of every staged file that was created or written, copied from the base on first write. A commit
/// pins the files its frozen view reads: while pinned, a file is never changed or deleted; a write
/// to it first copies it to a new generation, a file nobody needs any more is deleted at unpin.
/// Called under the session gate.
/// </summary>
internal sealed class SessionSpool : IDisposable
{
    private const string DroppedPrefix = "spool.dropped-";
    private readonly string _storeRoot;
    private readonly Func<ulong> _allocateNumber;
    private Task _dropping = Task.CompletedTask;
    private SpareSpoolFiles _spares;

    /// <param name="allocateNumber">the session's inode numbers (thread-safe): spare files are made at numbers reserved ahead</param>
    public SessionSpool(string directory, string storeRoot, Func<ulong> allocateNumber)
    {
        Directory = directory;
        _storeRoot = storeRoot;
        _allocateNumber = allocateNumber;
        _spares = NewSpares();
    }

    private SpareSpoolFiles NewSpares() => new(Directory, _allocateNumber, number => PathFor(number));
    private readonly HashSet<string> _pinned = new(StringComparer.Ordinal);
    private readonly List<string> _unneeded = [];
    private uint _generation;

    public string Directory { get; }

    /// <summary>The spool file of inode <paramref name="number"/> at <paramref name="generation"/> (0: the first).</summary>
    public string PathFor(ulong number, uint generation = 0) => Path.Combine(Directory, generation == 0
        ? number.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{number}.{generation}"));

    /// <summary>At replay: generations already used on disk are not used again.</summary>
    public void SawGeneration(uint generation) => _generation = Math.Max(_generation, generation);

    /// <summary>A new inode number with its empty spool file: a spare made ahead when one is ready.</summary>
    public (ulong Number, string Path) CreateFile()
    {
        if (_spares.TryTake(out var number)) return (number, PathFor(number));
        // As the spare maker does: exclusively, past whatever a crashed mount left at numbers it had
        // reserved (never truncated, never followed); a real failure (a full disk) is thrown.
        for (int attempt = 0; attempt < MaxLeftoversSkipped; attempt++)
        {
            number = _allocateNumber();
            var path = PathFor(number);
            if (CreateIfFree(path)) return (number, path);
        }
        throw new IOException($"no free spool file name in {Directory} after {MaxLeftoversSkipped} leftovers");
    }

    /// <summary>Leftovers a create steps over before it gives up (a crash leaves at most a few hundred).</summary>
    private const int MaxLeftoversSkipped = 100_000;

    /// <summary>
    /// Before the state directory itself is deleted: waits for dropped spool files to be gone, stops
    /// making spares and deletes the ready ones; later creates start a new supply.
    /// </summary>
    public void QuiesceBeforeDelete()
    {
        WaitForDropped();
        _spares.Dispose();
        _spares = NewSpares();
    }

    public void Dispose()
    {
        _spares.Dispose();
        WaitForDropped();
    }

    /// <summary>
    /// Creates an empty private file at <paramref name="path"/> exclusively (O_EXCL: never follows a
    /// link); false when something is there already (a leftover, left as it is). Other failures throw.
    /// </summary>
    internal static bool CreateIfFree(string path)
    {
        try
        {
            using (StagingFiles.OpenPrivate(path, FileMode.CreateNew, FileAccess.Write)) { }
            return true;
        }
        catch (IOException) when (Taken(path)) { return false; }
    }

    /// <summary>Whether anything is at <paramref name="path"/>: a file, a directory or a link (also a dangling one).</summary>
    private static bool Taken(string path) => System.IO.File.Exists(path) || System.IO.Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;

    public bool IsPinned(string path) => _pinned.Contains(path);

    public void Pin(IEnumerable<string> paths) => _pinned.UnionWith(paths);

    /// <summary>The commit is done with its view: pinned files nobody needs any more are deleted.</summary>
    public void Unpin()
    {
        _pinned.Clear();
        foreach (var path in _unneeded) TryDelete(path);
        _unneeded.Clear();
    }

    /// <summary>An inode no longer needs this file (no name, no handle, or a newer generation).</summary>
    public void Drop(string path)
    {
        if (_pinned.Contains(path)) _unneeded.Add(path);
        else TryDelete(path);
    }

    /// <summary>
    /// After a rebase: every spool file goes (open handles keep reading theirs after the unlink).
    /// Unless some are pinned, the directory is renamed aside and a new one made, and the old one is
    /// deleted in the background: freeing hundreds of MiB of spooled pages took ~15% of an
    /// incremental commit, and no later file can be named like one in the renamed directory.
    /// </summary>
    public void DropAll()
    {
        if (!System.IO.Directory.Exists(Directory)) return;
        if (_pinned.Count == 0)
        {
            var parent = Path.GetDirectoryName(Directory)!;
            var aside = Path.Combine(parent, DroppedPrefix + Guid.NewGuid().ToString("N")[..12]);
            try
            {
                _spares.Forget(); // first: a batch made from now on is not offered, or goes aside with the rest
                System.IO.Directory.Move(Directory, aside);
                StagingFiles.CreateDirectory(Directory);
                var previous = _dropping;
                _dropping = Task.Run(async () =>
                {
                    await previous.ConfigureAwait(false);
                    DeleteDropped(parent);
                });
                return;
            }
            catch (IOException) { } // deleted in place below
            catch (UnauthorizedAccessException) { }
            StagingFiles.CreateDirectory(Directory);
        }
        _spares.Forget();
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory))
            if (!_pinned.Contains(file)) TryDelete(file);
    }

    /// <summary>Deletes the spool directories renamed aside (also ones a crash left) and an earlier version's spare directory, never through a symlink.</summary>
    private void DeleteDropped(string parent)
    {
        try
        {
            foreach (var dir in System.IO.Directory.EnumerateDirectories(parent, DroppedPrefix + "*"))
                Datastore.Platform.SafeDelete.Tree(_storeRoot, Path.GetRelativePath(_storeRoot, dir));
            var earlierSpares = Path.Combine(parent, "spares"); // where earlier versions made spare files
            if (System.IO.Directory.Exists(earlierSpares)) Datastore.Platform.SafeDelete.Tree(_storeRoot, Path.GetRelativePath(_storeRoot, earlierSpares));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Datastore.Platform.UnsafePathException) { } // tried again at the next rebase
    }

    /// <summary>Waits for the background deletion of dropped spool files (before the state directory itself goes).</summary>
    public void WaitForDropped()
    {
        try { _dropping.Wait(TimeSpan.FromSeconds(60)); }
        catch (AggregateException) { }
    }

    /// <summary>
    /// A spool file of <paramref name="size"/> bytes with the inode's content so far (from the
    /// base, or from a pinned spool file), written beside and renamed into place. Returns the
    /// path and its generation (for the journal's Spool record).
    /// </summary>
    public async ValueTask<(string Path, uint Generation)> CopyAsync(StagedInode inode, PxarAccessor? baseAccessor, long size, CancellationToken ct)
    {
        StagingFiles.CreateDirectory(Directory);
        var from = inode.SpoolPath;
        uint generation = from is null ? 0 : ++_generation;
        var spool = PathFor(inode.Number, generation);
        var temp = spool + ".copy";
        try
        {
            _spares.TryTakeInto(temp); // then opened with O_TRUNC: no inode allocated
            using (var h = StagingFiles.OpenHandle(temp, FileMode.Create, FileAccess.Write))
            {
                long keep = Math.Min(size, inode.Size);
                if (keep > 0)
                {
                    if (from is not null) await CopyFileAsync(from, h, keep, ct).ConfigureAwait(false);
                    else await CopyBaseAsync(inode, baseAccessor, h, keep, ct).ConfigureAwait(false);
                }
                RandomAccess.SetLength(h, size);
            }
            File.Move(temp, spool, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        return (spool, generation);
    }

    private static async ValueTask CopyFileAsync(string from, SafeFileHandle target, long length, CancellationToken ct)
    {
        using var source = File.OpenHandle(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long at = 0; at < length;)
            {
                int n = await RandomAccess.ReadAsync(source, buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - at)), at, ct).ConfigureAwait(false);
                if (n == 0) break; // shorter than its size: the rest reads as zeros (SetLength)
                await RandomAccess.WriteAsync(target, buffer.AsMemory(0, n), at, ct).ConfigureAwait(false);
                at += n;
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    private static async ValueTask CopyBaseAsync(StagedInode inode, PxarAccessor? accessor, SafeFileHandle target, long length, CancellationToken ct)
    {
        if (inode.BaseEntry is not { Kind: PxarEntryKind.File } entry || accessor is null) return;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long at = 0; at < length;)
            {
                int n = await accessor.ReadFileAsync(entry, at, buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - at)), ct).ConfigureAwait(false);
                if (n == 0) throw new Datastore.Formats.FormatCorruptException($"base file '{entry.NameString}' ends before its size");
                await RandomAccess.WriteAsync(target, buffer.AsMemory(0, n), at, ct).ConfigureAwait(false);
                at += n;
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Truncates or extends a spool file that is not pinned.</summary>
    public static void SetLength(string path, long size)
    {
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        RandomAccess.SetLength(h, size);
    }

    public static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
