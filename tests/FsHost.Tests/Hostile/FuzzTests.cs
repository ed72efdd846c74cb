using System.Diagnostics;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Hostile;

/// <summary>
/// Bounded, seeded fuzzing of the reference vectors: mutated pxar archives, indexes, manifests,
/// blobs and chunks go through restore (in-process API) and, fewer of them, through a real mount
/// walked with find and cat. Every case ends in bounded time with success or a clear error (a
/// BackupFs, I/O or data error); anything else (a crash-class exception, a hang) fails the test.
/// Prints cases, errors by kind, the slowest case and peak memory.
/// </summary>
[Collection("fuse")]
public class FuzzTests : IDisposable
{
    private const int Seed = 20251202;
    private const int PxarCases = 1600, StoreCases = 250, MountedSnapshots = 40;
    private static readonly TimeSpan CaseLimit = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new("backupfs-fuzz-");
    public FuzzTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        BackupFsProgram.UnmountQuietly(_tmp.Sub("mnt"));
        _tmp.Dispose();
    }

    /// <summary>Outcomes of one fuzz run.</summary>
    private sealed class Tally
    {
        public int Cases, Hangs;
        public readonly SortedDictionary<string, int> Outcomes = new(StringComparer.Ordinal);
        public readonly List<string> Crashes = [];
        public TimeSpan Slowest;

        public void Add(string outcome)
        {
            lock (Outcomes) Outcomes[outcome] = Outcomes.GetValueOrDefault(outcome) + 1;
        }

        public override string ToString() =>
            $"{Cases} cases, slowest {Slowest.TotalMilliseconds:0} ms, {Hangs} hangs, {Crashes.Count} crashes; " +
            string.Join(", ", Outcomes.Select(kv => $"{kv.Key} {kv.Value}"));
    }

    /// <summary>A clear error: what the command line prints as one line and the mount turns into an errno.</summary>
    private static bool IsClearError(Exception e) =>
        e is BackupFsException or IOException or InvalidDataException or UnauthorizedAccessException;

    /// <summary>Runs one case with a time limit and files its outcome.</summary>
    private static async Task RunCaseAsync(Tally tally, string label, Func<CancellationToken, Task> work)
    {
        tally.Cases++;
        var clock = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(CaseLimit);
        var task = Task.Run(() => work(cts.Token));
        try
        {
            await task.WaitAsync(CaseLimit + TimeSpan.FromSeconds(5));
            tally.Add("ok");
        }
        catch (TimeoutException)
        {
            tally.Hangs++;
            tally.Crashes.Add($"{label}: no answer within {CaseLimit.TotalSeconds} s");
        }
        catch (OperationCanceledException)
        {
            tally.Hangs++;
            tally.Crashes.Add($"{label}: still working after {CaseLimit.TotalSeconds} s");
        }
        catch (Exception e) when (IsClearError(e)) { tally.Add(e.GetType().Name); }
        catch (Exception e)
        {
            tally.Crashes.Add($"{label}: {e.GetType().Name}: {e.Message}\n{e.StackTrace?.Split('\n').FirstOrDefault()}");
        }
        if (clock.Elapsed > tally.Slowest) tally.Slowest = clock.Elapsed;
    }

    private static async Task ExtractAsync(PxarAccessor accessor, string target, CancellationToken ct)
    {
        try { await new PxarExtractor(accessor, new PxarExtractOptions { RestoreOwner = false, RestoreDevices = false }).ExtractAsync(target, "", ct); }
        finally { DeepTrees.Remove(target); }
    }

    private static long PeakKb() => ChildProcess.PeakKbOf(Environment.ProcessId);

    [Fact]
    public async Task MutatedVectorsRestoreAndMountWithOnlyClearErrors()
    {
        var rng = new Random(Seed);
        var total = Stopwatch.StartNew();

        // 1. pxar archives (v1, and the v2 metadata/payload pair) mutated in memory, restored with the API.
        var pxarDir = Path.Combine(TestPaths.Vectors, "pxar");
        var v1 = await File.ReadAllBytesAsync(Path.Combine(pxarDir, "A.pxar"));
        var meta = await File.ReadAllBytesAsync(Path.Combine(pxarDir, "A.mpxar"));
        var payload = await File.ReadAllBytesAsync(Path.Combine(pxarDir, "A.ppxar"));
        var pxar = new Tally();
        for (int i = 0; i < PxarCases; i++)
        {
            int which = rng.Next(3);
            var m = Mutator.Mutate(which == 0 ? v1 : which == 1 ? meta : payload, rng, out var kind);
            var (metaBytes, payloadBytes) = which == 0 ? (m, null) : which == 1 ? (m, payload) : (meta, m);
            var target = _tmp.Sub($"pxar-{i}");
            await RunCaseAsync(pxar, $"pxar case {i} ({kind} of {(which == 0 ? "A.pxar" : which == 1 ? "A.mpxar" : "A.ppxar")})", async ct =>
            {
                var accessor = await PxarAccessor.OpenAsync(new ByteSource(metaBytes), payloadBytes is null ? null : new ByteSource(payloadBytes), ct);
                await ExtractAsync(accessor, target, ct);
            });
        }
        _output.WriteLine($"pxar restore: {pxar}; peak RSS {PeakKb() / 1024} MiB; {total.Elapsed.TotalSeconds:0.0} s");

        // 2. The vector store's files (manifests, indexes, blobs, chunks) mutated one at a time, every archive restored with the API.
        var storePath = _tmp.Sub("store");
        CopyTree(Path.Combine(TestPaths.Vectors, "store"), storePath);
        var store = DataStore.OpenLocal(storePath);
        var files = Directory.EnumerateFiles(storePath, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith("/owner")).Order(StringComparer.Ordinal).ToList();
        var stored = new Tally();
        for (int i = 0; i < StoreCases; i++)
        {
            var file = files[rng.Next(files.Count)];
            var original = await File.ReadAllBytesAsync(file);
            await File.WriteAllBytesAsync(file, Mutator.Mutate(original, rng, out var kind));
            foreach (var snapshot in store.ListAllGroups().SelectMany(store.ListFinishedSnapshots).ToList())
            {
                if (!file.Contains("/.chunks/") && !file.StartsWith(store.FullPath(snapshot.RelativePath) + "/", StringComparison.Ordinal)) continue;
                await RunCaseAsync(stored, $"store case {i} ({kind} of {Path.GetRelativePath(storePath, file)}) restoring {snapshot}",
                    ct => RestoreSnapshotAsync(store, snapshot, _tmp.Sub($"store-{i}"), ct));
            }
            await File.WriteAllBytesAsync(file, original);
        }
        _output.WriteLine($"store restore: {stored}; peak RSS {PeakKb() / 1024} MiB; {total.Elapsed.TotalSeconds:0.0} s");

        // 3. A store holding mutated copies of the vector snapshots, mounted by the real program and walked with find and cat.
        var mounted = FuseEnvironment.Usable(_output) ? MountAndWalk(rng) : null;

        foreach (var crash in pxar.Crashes.Concat(stored.Crashes).Take(20)) _output.WriteLine("CRASH " + crash);
        _output.WriteLine($"total {pxar.Cases + stored.Cases + (mounted?.Cases ?? 0)} cases in {total.Elapsed.TotalSeconds:0.0} s");
        Assert.Empty(pxar.Crashes);
        Assert.Empty(stored.Crashes);
        // The test process's own peak is printed only: other tests share the process. The mount's
        // peak (its own process) is asserted in MountAndWalk, the command line's in HostileArchiveTests.
    }

    /// <summary>Restores every archive of a snapshot as `backupfs restore` does (pxar extracted, images and blobs read whole).</summary>
    private static async Task RestoreSnapshotAsync(DataStore store, SnapshotRef snapshot, string target, CancellationToken ct)
    {
        using var chunks = new CachedChunkSource(new DecodingChunkSource(store.Chunks), 32L * 1024 * 1024);
        var reader = SnapshotReader.Open(store, snapshot, chunks);
        foreach (var name in reader.FileNames)
        {
            if (name.EndsWith(".pxar.didx", StringComparison.Ordinal) || name.EndsWith(".mpxar.didx", StringComparison.Ordinal))
                await ExtractAsync(await PxarArchiveOpener.OpenAsync(reader, chunks, name, ct), target, ct);
            else if (name.EndsWith(".blob", StringComparison.Ordinal))
                reader.ReadBlob(name);
            else if (name.EndsWith(".fidx", StringComparison.Ordinal))
            {
                var source = new PrefetchingReader(reader.OpenIndex(name), chunks, windowChunks: 4);
                var buffer = new byte[1 << 20];
                for (long at = 0; at < source.Length;)
                {
                    int n = await source.ReadAtAsync(at, buffer, ct);
                    if (n <= 0) throw new IOException("image ended early");
                    at += n;
                }
            }
        }
    }

    private sealed record MountRun(int Cases);

    private MountRun MountAndWalk(Random rng)
    {
        var clock = Stopwatch.StartNew();
        var vectors = Path.Combine(TestPaths.Vectors, "store");
        var storePath = _tmp.Sub("mounted-store");
        CopyTree(Path.Combine(vectors, ".chunks"), Path.Combine(storePath, ".chunks"));
        string[] sources = ["host/vectors/2025-11-24T16:00:00Z", "ns/team/host/vectors/2025-11-24T17:00:00Z", "vm/100/2025-11-24T18:00:00Z"];
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < MountedSnapshots; i++)
        {
            var source = sources[rng.Next(sources.Length)];
            var group = source.StartsWith("vm/") ? "vm/100" : "host/vectors";
            var copy = Path.Combine(storePath, "ns", $"fz{i:00}", group, Path.GetFileName(source));
            CopyTree(Path.Combine(vectors, source), copy);
            File.Copy(Path.Combine(vectors, Path.GetDirectoryName(source)!, "owner"), Path.Combine(Path.GetDirectoryName(copy)!, "owner"));
            var victims = Directory.GetFiles(copy).Order(StringComparer.Ordinal).ToArray();
            var victim = victims[rng.Next(victims.Length)];
            File.WriteAllBytes(victim, Mutator.Mutate(File.ReadAllBytes(victim), rng, out var kind));
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        var mount = Bounded.Run(BackupFsProgram.Path, "mount", storePath, mnt);
        Assert.True(mount.ExitCode == 0, mount.Stderr);
        int pid = BackupFsProgram.MountPid(mnt) ?? throw new Xunit.Sdk.XunitException("no mount process");
        // find over everything, then cat every regular file; 124 from timeout is a hang.
        var script = """
            find "$1" -xdev > /dev/null 2> "$2.find"; echo "find $?"
            find "$1" -xdev -type f -print0 2>/dev/null | while IFS= read -r -d '' f; do timeout 20 cat -- "$f" > /dev/null 2>> "$2.cat"; echo "cat $?"; done | sort | uniq -c
            """;
        var walk = Bounded.RunWithTimeout(TimeSpan.FromMinutes(3), "bash", "-c", script, "walk", mnt, _tmp.Sub("walk"));
        var alive = Directory.Exists($"/proc/{pid}");
        long peak = alive ? ChildProcess.PeakKbOf(pid) : -1;
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", mnt).ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt), TimeSpan.FromSeconds(30)));

        var lines = walk.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var catCodes = lines.Where(l => l.Contains("cat ")).Select(l => l.Split(' ')).ToDictionary(p => int.Parse(p[2]), p => int.Parse(p[0]));
        var findErrors = File.Exists(_tmp.Sub("walk.find")) ? File.ReadLines(_tmp.Sub("walk.find")).Count() : 0;
        var eio = File.Exists(_tmp.Sub("walk.cat")) ? File.ReadLines(_tmp.Sub("walk.cat")).Count(l => l.Contains("Input/output error")) : 0;
        _output.WriteLine($"mount: {MountedSnapshots} mutated snapshots ({string.Join(", ", kinds.Select(kv => $"{kv.Key} {kv.Value}"))}); " +
            $"{lines.FirstOrDefault(l => l.StartsWith("find"))}, {findErrors} find error lines; cat exits {string.Join(", ", catCodes.Select(kv => $"{kv.Key}: {kv.Value}"))} " +
            $"({eio} EIO); mount peak RSS {peak / 1024} MiB; {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(alive, "the mount process died during the walk");
        Assert.False(catCodes.ContainsKey(124), "a cat hung");
        Assert.True(catCodes.Keys.All(c => c is 0 or 1), "cat ended with " + string.Join(",", catCodes.Keys));
        Assert.True(peak < 400 * 1024, $"mount peak RSS {peak} KiB");
        return new MountRun(MountedSnapshots);
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    /// <summary>An archive held in memory.</summary>
    private sealed class ByteSource(byte[] data) : IRandomAccessSource
    {
        public long Length => data.Length;
        public ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            if (offset >= data.Length) return ValueTask.FromResult(0);
            int n = (int)Math.Min(buffer.Length, data.Length - offset);
            data.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }
    }
}
