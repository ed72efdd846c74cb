using System.Collections.Concurrent;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Store;
using BackupFs.S3.Client;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Following;

/// <summary>
/// Follows an S3 datastore's bucket for a mount, like rclone's directory cache: a datastore-level
/// directory is listed from the bucket when someone looks at it and its listing is older than the
/// time-to-live (0 = every time), at most one LIST per directory at a time, and the result is
/// applied to the local cache store the tree reads: new namespaces, groups and snapshots appear
/// (a snapshot once its manifest is in the bucket: the manifest is fetched then), vanished ones
/// are removed, owner, notes, manifests (verify state) and protection markers follow. A snapshot's
/// indexes and blobs are fetched when it is first opened. It only reads the bucket.
/// Namespace, "ns" and type directories are listed with a delimiter (one level); a group is
/// listed without one, because its few keys per snapshot tell which snapshots are finished and
/// protected.
/// </summary>
public sealed class S3MetadataFollower : IMetadataFollower
{
    private static readonly string[] TypeNames = ["ct", "host", "vm"];
    private readonly S3ObjectClient _client;
    private readonly S3KeyLayout _layout;
    private readonly string _root;
    private readonly TimeSpan _ttl;
    private readonly Action<string> _warn;
    private readonly ConcurrentDictionary<string, DirectoryState> _directories = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _etags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _snapshotFetches = new(StringComparer.Ordinal);
    private long _lists, _gets, _refreshes, _failures;

    public S3MetadataFollower(S3ObjectClient client, S3KeyLayout layout, string cacheRoot, TimeSpan timeToLive, Action<string>? warn = null)
    {
        _client = client;
        _layout = layout;
        _root = Path.GetFullPath(cacheRoot);
        _ttl = timeToLive < TimeSpan.Zero ? TimeSpan.Zero : timeToLive;
        _warn = warn ?? S3Warnings.Default;
    }

    /// <summary>Logical listings, GETs, refreshes, failed refreshes, and write requests the bucket client sent (PUT/DELETE/COPY; a reader's is always 0).</summary>
    public FollowStats Stats
    {
        get
        {
            var sent = _client.Counters.Snapshot();
            return new(Interlocked.Read(ref _lists), Interlocked.Read(ref _gets), Interlocked.Read(ref _refreshes), Interlocked.Read(ref _failures),
                sent.Put + sent.Delete + sent.Copy);
        }
    }

    public async ValueTask<FollowChanges> RefreshAsync(FollowedDirectory kind, string relativePath, CancellationToken ct)
    {
        var state = _directories.GetOrAdd(kind + ":" + relativePath, _ => new DirectoryState());
        Task<FollowChanges> task;
        lock (state)
        {
            if (state.Running is { } running) task = running;
            else if (state.ListedAt is { } at && _ttl > TimeSpan.Zero && DateTime.UtcNow - at < _ttl) return FollowChanges.None;
            else task = state.Running = RunAsync(kind, relativePath, state);
        }
        return await task.WaitAsync(ct).ConfigureAwait(false);
    }

    private async Task<FollowChanges> RunAsync(FollowedDirectory kind, string relativePath, DirectoryState state)
    {
        await Task.Yield(); // never run the listing under the caller's lock
        var start = DateTime.UtcNow;
        try
        {
            Interlocked.Increment(ref _refreshes);
            var changes = kind switch
            {
                FollowedDirectory.Namespace => await RefreshNamespaceAsync(relativePath, start).ConfigureAwait(false),
                FollowedDirectory.NamespaceList => await RefreshChildrenAsync(relativePath, NameRules.IsSafeId, start).ConfigureAwait(false),
                FollowedDirectory.Type => await RefreshChildrenAsync(relativePath, NameRules.IsBackupId, start).ConfigureAwait(false),
                FollowedDirectory.Group => await RefreshGroupAsync(relativePath, start).ConfigureAwait(false),
                _ => FollowChanges.None,
            };
            lock (state) state.ListedAt = start;
            return changes;
        }
        catch
        {
            Interlocked.Increment(ref _failures);
            throw;
        }
        finally
        {
            lock (state) state.Running = null;
        }
    }

    private string LocalPath(string relativePath) =>
        relativePath.Length == 0 ? _root : Path.Combine(_root, relativePath.Replace('/', Path.DirectorySeparatorChar));

    private async Task<S3DirectoryListing> ListLevelAsync(string prefix)
    {
        Interlocked.Increment(ref _lists);
        return await _client.ListDirectoryAsync(prefix).ConfigureAwait(false);
    }

    /// <summary>The root or a namespace: which of ct/host/vm and ns exist.</summary>
    private async Task<FollowChanges> RefreshNamespaceAsync(string nsPath, DateTime start)
    {
        var prefix = _layout.ContentDirectoryPrefix(nsPath);
        var names = SubNames(await ListLevelAsync(prefix).ConfigureAwait(false), prefix);
        var local = LocalPath(nsPath);
        Directory.CreateDirectory(local);
        var added = new List<string>();
        var removed = new List<string>();
        foreach (var name in TypeNames.Append("ns"))
            Apply(Path.Combine(local, name), name, names.Contains(name), start, added, removed);
        return new FollowChanges(added, removed);
    }

    /// <summary>A namespace's "ns" directory (child namespaces) or a type directory (groups).</summary>
    private async Task<FollowChanges> RefreshChildrenAsync(string relativePath, Func<string, bool> validName, DateTime start)
    {
        var (parent, last) = SplitLast(relativePath);
        if (!(last == "ns" || TypeNames.Contains(last))) throw new BackupFsException($"not a followed directory: {relativePath}");
        var prefix = _layout.ContentDirectoryPrefix(parent) + last + "/";
        var names = SubNames(await ListLevelAsync(prefix).ConfigureAwait(false), prefix);
        int invalid = names.RemoveWhere(n => !validName(n));
        if (invalid > 0) _warn($"ignored {invalid} invalid names below '{prefix}' in the bucket");
        var local = LocalPath(relativePath);
        var added = new List<string>();
        var removed = new List<string>();
        var localNames = Directory.Exists(local)
            ? Directory.EnumerateDirectories(local).Select(Path.GetFileName).OfType<string>().Where(validName).ToList()
            : [];
        foreach (var name in names.Union(localNames))
            Apply(Path.Combine(local, name), name, names.Contains(name), start, added, removed);
        return new FollowChanges(added, removed);
    }

    private static void Apply(string dir, string name, bool inBucket, DateTime start, List<string> added, List<string> removed)
    {
        if (inBucket)
        {
            if (Directory.Exists(dir)) return;
            Directory.CreateDirectory(dir);
            added.Add(name);
        }
        else if (LocalCopyRules.TryRemoveStale(dir, start)) removed.Add(name);
    }

    /// <summary>A group: owner, notes, and each snapshot's manifest and protection marker.</summary>
    private async Task<FollowChanges> RefreshGroupAsync(string groupPath, DateTime start)
    {
        var prefix = _layout.ContentDirectoryPrefix(groupPath);
        Interlocked.Increment(ref _lists);
        var snapshots = new Dictionary<string, (S3ObjectEntry? Manifest, bool Protected)>(StringComparer.Ordinal);
        var groupFiles = new Dictionary<string, S3ObjectEntry>(StringComparer.Ordinal);
        int invalid = 0;
        await foreach (var o in _client.ListAsync(prefix).ConfigureAwait(false))
        {
            var rel = o.Key[prefix.Length..];
            int slash = rel.IndexOf('/');
            if (slash < 0)
            {
                if (rel is DataStore.OwnerFile or DataStore.NotesFile) groupFiles[rel] = o;
                else invalid++;
                continue;
            }
            var time = rel[..slash];
            var file = rel[(slash + 1)..];
            if (!NameRules.IsBackupTime(time) || !ContentPathRules.IsSnapshotFileName(file)) { invalid++; continue; }
            if (snapshots.Count > 1_000_000) throw new BackupFsException($"more than a million snapshots below '{prefix}'");
            snapshots.TryGetValue(time, out var s);
            if (file == DataStore.ManifestName) s.Manifest = o;
            else if (file == DataStore.ProtectedMarker) s.Protected = true;
            snapshots[time] = s;
        }
        if (invalid > 0) _warn($"ignored {invalid} invalid keys below '{prefix}' in the bucket");

        var local = LocalPath(groupPath);
        Directory.CreateDirectory(local);
        foreach (var (name, entry) in groupFiles)
            await SyncFileAsync(groupPath + "/" + name, entry).ConfigureAwait(false);

        var added = new List<string>();
        var removed = new List<string>();
        foreach (var (time, s) in snapshots)
        {
            if (s.Manifest is not { } manifest) continue; // not finished (yet)
            var snapshotPath = groupPath + "/" + time;
            var dir = LocalPath(snapshotPath);
            bool known = File.Exists(Path.Combine(dir, DataStore.ManifestName));
            Directory.CreateDirectory(dir);
            await SyncFileAsync(snapshotPath + "/" + DataStore.ManifestName, manifest).ConfigureAwait(false);
            if (!known) added.Add(time);
            var marker = Path.Combine(dir, DataStore.ProtectedMarker);
            if (s.Protected && !File.Exists(marker)) await File.WriteAllBytesAsync(marker, []).ConfigureAwait(false);
            else if (!s.Protected && File.Exists(marker)) File.Delete(marker);
        }
        foreach (var dir in Directory.EnumerateDirectories(local))
        {
            var time = Path.GetFileName(dir);
            if (!NameRules.IsBackupTime(time) || snapshots.TryGetValue(time, out var s) && s.Manifest is not null) continue;
            if (LocalCopyRules.TryRemoveSnapshot(dir, start))
            {
                removed.Add(time);
                _etags.TryRemove(groupPath + "/" + time + "/" + DataStore.ManifestName, out _);
            }
        }
        return new FollowChanges(added, removed);
    }

    /// <summary>Fetches a small object (owner, notes, manifest) when the local copy may differ from it.</summary>
    private async Task SyncFileAsync(string relativePath, S3ObjectEntry entry)
    {
        var local = LocalPath(relativePath);
        var etag = entry.ETag ?? "";
        if (_etags.TryGetValue(relativePath, out var seen) ? seen == etag && File.Exists(local)
                : File.Exists(local) && new FileInfo(local).Length == entry.Size)
        {
            _etags[relativePath] = etag; // first sight of a local copy of the same size: taken as current
            return;
        }
        var data = await GetAsync(relativePath).ConfigureAwait(false);
        if (data is null) return; // removed meanwhile; the next listing tells
        await AtomicFile.WriteAsync(local, data).ConfigureAwait(false);
        _etags[relativePath] = etag;
    }

    private async Task<byte[]?> GetAsync(string relativePath)
    {
        Interlocked.Increment(ref _gets);
        return await _client.GetAsync(_layout.ContentObjectKey(relativePath)).ConfigureAwait(false);
    }

    public ValueTask EnsureSnapshotFilesAsync(SnapshotRef snapshot, CancellationToken ct)
    {
        var path = snapshot.RelativePath;
        var task = _snapshotFetches.GetOrAdd(path, _ => FetchSnapshotFilesAsync(snapshot));
        if (task.IsCompletedSuccessfully) return ValueTask.CompletedTask;
        return new ValueTask(AwaitFetchAsync(path, task, ct));
    }

    private async Task AwaitFetchAsync(string path, Task task, CancellationToken ct)
    {
        try { await task.WaitAsync(ct).ConfigureAwait(false); }
        catch (Exception) when (task.IsFaulted)
        {
            _snapshotFetches.TryRemove(new KeyValuePair<string, Task>(path, task)); // the next open tries again
            throw;
        }
    }

    private async Task FetchSnapshotFilesAsync(SnapshotRef snapshot)
    {
        await Task.Yield();
        var dir = LocalPath(snapshot.RelativePath);
        var manifestPath = Path.Combine(dir, DataStore.ManifestName);
        if (!File.Exists(manifestPath)) return; // unfinished or gone: opening it reports that
        var manifest = BackupManifest.FromBlob(await File.ReadAllBytesAsync(manifestPath).ConfigureAwait(false));
        foreach (var file in manifest.Files)
        {
            if (!NameRules.IsArchiveFileName(file.Filename)) throw new FormatCorruptException($"{snapshot}: invalid file name '{file.Filename}' in the manifest");
            var local = Path.Combine(dir, file.Filename);
            if (File.Exists(local)) continue;
            var data = await GetAsync(snapshot.RelativePath + "/" + file.Filename).ConfigureAwait(false)
                ?? throw new BackupFsException($"snapshot {snapshot}: {file.Filename} is not in the bucket (removed meanwhile?)");
            await AtomicFile.WriteAsync(local, data).ConfigureAwait(false);
        }
    }

    private static HashSet<string> SubNames(S3DirectoryListing listing, string prefix) =>
        listing.Prefixes.Where(p => p.StartsWith(prefix, StringComparison.Ordinal) && p.Length > prefix.Length + 1)
            .Select(p => p[prefix.Length..^1])
            .Where(n => !n.Contains('/'))
            .ToHashSet(StringComparer.Ordinal);

    private static (string Parent, string Last) SplitLast(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? ("", path) : (path[..slash], path[(slash + 1)..]);
    }

    private sealed class DirectoryState
    {
        public DateTime? ListedAt;
        public Task<FollowChanges>? Running;
    }
}
