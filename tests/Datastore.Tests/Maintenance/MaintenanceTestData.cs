using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.Maintenance;

/// <summary>Snapshots, chunks and times for maintenance tests.</summary>
internal static class MaintenanceTestData
{
    public const int AverageChunk = 64 * 1024;
    private static long s_nextTime = 1_700_000_000;

    /// <summary>A backup time no other test of this run uses (groups are per test anyway).</summary>
    public static long NextTime() => Interlocked.Add(ref s_nextTime, 3600);

    public static byte[] Pseudo(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <param name="pause">wait this long after the data is written, before the index is (a slow backup)</param>
    public static async Task<SnapshotRef> BackupAsync(DataStore store, BackupGroup group, byte[] data, long? time = null,
        string archive = "root.pxar.didx", TimeSpan? pause = null)
    {
        await using var writer = await BackupStarter.BeginAsync(store, group, new BackupOptions { BackupTime = time ?? NextTime(), MaxChunksInFlight = 4 });
        var archiveWriter = writer.CreateDynamicArchive(archive, AverageChunk);
        archiveWriter.Write(data);
        if (pause is { } p) await Task.Delay(p);
        await writer.CloseArchiveAsync(archiveWriter);
        await writer.AddBlobAsync("client.conf.blob", "x: 1\n"u8.ToArray());
        await writer.FinishAsync();
        return writer.Snapshot;
    }

    /// <summary>The distinct chunks the snapshot's indexes reference.</summary>
    public static HashSet<Digest> ChunksOf(DataStore store, SnapshotRef snapshot)
    {
        var set = new HashSet<Digest>();
        var dir = store.FullPath(snapshot.RelativePath);
        foreach (var file in Directory.EnumerateFiles(dir))
        {
            IChunkIndex? index = file.EndsWith(".didx") ? DynamicIndex.Load(file) : file.EndsWith(".fidx") ? FixedIndex.Load(file) : null;
            if (index is null) continue;
            for (int i = 0; i < index.Count; i++) set.Add(index.DigestAt(i));
        }
        return set;
    }

    public static LocalChunkStore Chunks(DataStore store) => (LocalChunkStore)store.Chunks;

    public static bool Exists(DataStore store, Digest digest) => File.Exists(Chunks(store).ChunkPath(digest));

    /// <summary>Sets the chunks' atime into the past, as if last used that long ago.</summary>
    public static void Age(DataStore store, IEnumerable<Digest> digests, TimeSpan age)
    {
        var when = DateTime.UtcNow - age;
        foreach (var d in digests) File.SetLastAccessTimeUtc(Chunks(store).ChunkPath(d), when);
    }
}

/// <summary>An object-store mirror that records calls and can be told to fail.</summary>
internal sealed class RecordingMirror : IContentMirror
{
    public List<string> Calls { get; } = new();
    public bool Fail { get; set; }
    public Action<string>? OnCall { get; set; }

    private ValueTask Record(string call)
    {
        lock (Calls) Calls.Add(call);
        OnCall?.Invoke(call);
        if (Fail) throw new BackendException("gateway unreachable (test)");
        return ValueTask.CompletedTask;
    }

    public ValueTask PutAsync(string relativePath, ReadOnlyMemory<byte> data, bool noReplace, CancellationToken ct = default) =>
        Record($"put{(noReplace ? "-new" : "")} {relativePath}");
    public ValueTask DeleteAsync(string relativePath, CancellationToken ct = default) => Record($"delete {relativePath}");
    public ValueTask DeletePrefixAsync(string relativeDirectory, CancellationToken ct = default) => Record($"delete-prefix {relativeDirectory}");
}
