using System.Diagnostics;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.S3;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>
/// A mounted S3 datastore whose gateway stops answering (radosgw frozen with SIGSTOP, or every byte
/// black-holed by an in-test proxy): reading an uncached file fails with EIO at the deadline, the
/// next uncached read fails at once, cached files and listings keep answering, and once the
/// gateway answers again reads work without remounting. The "fuse" collection runs one test at a
/// time, so the freeze reaches no other FUSE test; SIGCONT always follows in a finally.
/// </summary>
[Collection("fuse")]
public class S3MountFaultTests : IClassFixture<S3GatewayFixture>, IDisposable
{
    private const double Timeout = 3;
    private readonly S3GatewayFixture _gw;
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();

    public S3MountFaultTests(S3GatewayFixture gw, ITestOutputHelper output)
    {
        _gw = gw;
        _output = output;
    }

    public void Dispose() => _tmp.Dispose();

    private static byte[] Data(int size, int seed)
    {
        var b = new byte[size];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static async Task<SnapshotRef> BackupImagesAsync(DataStore ds, string group, params (string Name, byte[] Data)[] images)
    {
        await using var w = await BackupStarter.BeginAsync(ds, BackupGroup.Parse(group), new BackupOptions { BackupTime = 1_700_000_000 });
        foreach (var (name, data) in images)
        {
            var f = w.CreateFixedArchive(name + ".fidx", 64 * 1024);
            f.Write(data);
            await w.CloseArchiveAsync(f);
        }
        await w.FinishAsync();
        return w.Snapshot;
    }

    private static void Signal(int pid, string signal)
    {
        using var p = Process.Start("kill", ["-" + signal, pid.ToString()])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [FuseTheory]
    [InlineData("sigstop")]
    [InlineData("blackhole")]
    public async Task AnUnansweringGatewayGivesEioAtTheDeadlineThenFailsFastAndRecoversWithoutRemount(string fault)
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var bucket = await _gw.NewBucketAsync();
        using var proxy = new TcpFaultProxy(new Uri(_gw.Endpoint));
        var cache = _tmp.Sub("cache");
        var endpoint = fault == "blackhole" ? proxy.Endpoint : _gw.Endpoint;
        S3Datastore.Init(cache, _gw.Config(bucket, endpoint, timeoutSeconds: Timeout, attempts: 3, capacity: 10_000), _gw.Credentials);

        var warm = Data(4 * 64 * 1024, 1);
        var cold = Data(12 * 64 * 1024, 2);
        var cold2 = Data(12 * 64 * 1024, 3);
        SnapshotRef warmSnap, coldSnap;
        using (var s3 = S3Datastore.Open(cache, new S3OpenOptions { AdoptCachedChunks = false }))
            warmSnap = await BackupImagesAsync(s3.ToDataStore(), "host/warm", ("warm.img", warm));
        // Uploaded without keeping the chunks in the local cache: reading these needs the bucket.
        using (var s3 = S3Datastore.Open(cache, new S3OpenOptions { AdoptCachedChunks = false, NoCacheUploads = true }))
            coldSnap = await BackupImagesAsync(s3.ToDataStore(), "host/cold", ("cold.img", cold), ("cold2.img", cold2));

        var log = new List<string>();
        using var store = S3Datastore.Open(cache, new S3OpenOptions { OutageLog = m => { lock (log) log.Add(m); } });
        using var mount = new DatastoreMount(store.ToDataStore());
        var warmPath = mount.PathOf($"host/warm/{warmSnap.TimeName}/warm.img");
        var coldPath = mount.PathOf($"host/cold/{coldSnap.TimeName}/cold.img");
        var cold2Path = mount.PathOf($"host/cold/{coldSnap.TimeName}/cold2.img");
        Assert.Equal(warm, File.ReadAllBytes(warmPath));        // now in the kernel's page cache and the chunk caches too

        int pid = _gw.RgwPidFile is { } pidFile ? int.Parse(File.ReadAllText(pidFile).Trim()) : 0;
        ToolResult first, second, cachedRead, listing;
        TimeSpan firstTime, secondTime;
        var bound = TimeSpan.FromSeconds(30);
        if (fault == "sigstop") Signal(pid, "STOP"); else proxy.Blackhole = true;
        var resumed = Stopwatch.StartNew();
        try
        {
            var sw = Stopwatch.StartNew();
            first = Bounded.RunWithTimeout(bound, "cat", coldPath);
            firstTime = sw.Elapsed;
            sw.Restart();
            second = Bounded.RunWithTimeout(bound, "cat", cold2Path);
            secondTime = sw.Elapsed;
            cachedRead = Bounded.RunWithTimeout(bound, "cmp", warmPath, WriteTemp("warm", warm));
            listing = Bounded.RunWithTimeout(bound, "ls", "-l", mount.PathOf("host/cold"), mount.PathOf($"host/cold/{coldSnap.TimeName}"));
        }
        finally
        {
            if (fault == "sigstop") Signal(pid, "CONT"); else proxy.Blackhole = false;
            resumed.Restart();
        }
        var recovered = await FaultTiming.UntilSucceedsAsync(() =>
        {
            var r = Bounded.RunWithTimeout(bound, "cmp", coldPath, WriteTemp("cold", cold));
            return r.ExitCode == 0 ? Task.CompletedTask : throw new IOException(r.Stderr);
        }, TimeSpan.FromSeconds(30));

        lock (log) foreach (var l in log) _output.WriteLine("store: " + l);
        lock (mount.Errors) foreach (var l in mount.Errors) _output.WriteLine("mount: " + l);
        _output.WriteLine($"{fault}, {Timeout} s deadline: uncached read failed after {firstTime.TotalSeconds:0.00} s ({first.Stderr.Trim()}), " +
                          $"the next one after {secondTime.TotalMilliseconds:0} ms, reads worked again {recovered.TotalSeconds:0.00} s after the gateway answered");

        Assert.NotEqual(0, first.ExitCode);
        Assert.Contains("Input/output error", first.Stderr);
        Assert.InRange(firstTime.TotalSeconds, Timeout - 0.2, Timeout + FaultTiming.Margin.TotalSeconds);
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains("Input/output error", second.Stderr);
        Assert.True(secondTime < TimeSpan.FromSeconds(1), $"the second uncached read took {secondTime}");
        Assert.True(cachedRead.ExitCode == 0, cachedRead.Stdout + cachedRead.Stderr);
        Assert.True(listing.ExitCode == 0, listing.Stderr);
        Assert.Contains("cold2.img", listing.Stdout);
        Assert.Equal(cold2, File.ReadAllBytes(cold2Path));
        // One line when the gateway stopped answering, one when it answered again; the failed reads add none.
        lock (mount.Errors) Assert.Empty(mount.Errors);
        lock (log)
        {
            Assert.Equal(2, log.Count);
            Assert.Contains("stopped answering", log[0]);
            Assert.Contains("within 3 s", log[0]);
            Assert.Contains("answers again", log[1]);
        }
    }

    [FuseFact]
    public async Task ACommitIntoABlackHoleFailsWithinTheDeadlineAndSucceedsWhenTheGatewayAnswers()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var bucket = await _gw.NewBucketAsync();
        using var proxy = new TcpFaultProxy(new Uri(_gw.Endpoint));
        var cache = _tmp.Sub("cache");
        S3Datastore.Init(cache, _gw.Config(bucket, proxy.Endpoint, timeoutSeconds: Timeout, attempts: 3, capacity: 10_000), _gw.Credentials);
        using var s3 = S3Datastore.Open(cache, new S3OpenOptions { AdoptCachedChunks = false });
        var store = s3.ToDataStore();
        using var mount = new DatastoreMount(store, staging: new BackupFs.FsHost.Staging.StagingOptions { CommitDelay = TimeSpan.FromHours(1) });
        var session = mount.PathOf("staging/host/s3commit");
        Directory.CreateDirectory(session);
        File.WriteAllBytes(Path.Combine(session, "data.bin"), Data(300_000, 7));

        proxy.Blackhole = true;
        (int Code, string Out, string Err) failed;
        var sw = Stopwatch.StartNew();
        try { failed = await Cli.CliRunner.RunAsync("commit", session).WaitAsync(TimeSpan.FromSeconds(60)); }
        finally { proxy.Blackhole = false; }
        _output.WriteLine($"commit into the black hole: {sw.Elapsed.TotalSeconds:0.00} s: {failed.Err.Trim()}");
        Assert.Equal(1, failed.Code);
        Assert.StartsWith("error: ", failed.Err);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(Timeout) + FaultTiming.Margin, $"took {sw.Elapsed}");
        Assert.Empty(store.ListFinishedSnapshots(Datastore.Layout.BackupGroup.Parse("host/s3commit")));

        await S3GatewayFixture.UntilAnsweringAsync(s3.Client);
        var snapshot = (await Cli.CliRunner.RunOkAsync("commit", session)).Trim();
        Assert.Single(store.ListFinishedSnapshots(Datastore.Layout.BackupGroup.Parse("host/s3commit")));
        Assert.Contains($"store1/.cnt/{snapshot}/index.json.blob", await _gw.KeysAsync(bucket, $"store1/.cnt/{snapshot}/"));
    }

    private string WriteTemp(string name, byte[] data)
    {
        var path = Path.Combine(_tmp.Path, name + ".expected");
        if (!File.Exists(path)) File.WriteAllBytes(path, data);
        return path;
    }
}
