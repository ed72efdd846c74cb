using System.Diagnostics;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;
using BackupFs.S3.Client;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.S3.Tests.Integration;

/// <summary>
/// The real gateway process frozen with SIGSTOP. Every test class using the gateway is in the
/// "S3 gateway" collection, so xunit runs them one at a time and no other test sees the freeze;
/// SIGCONT always follows in a finally, and freezes last a few seconds only.
/// </summary>
[Collection(S3GatewayCollection.Name)]
public class S3GatewayStopTests(S3GatewayFixture gw, ITestOutputHelper output)
{
    private static void Signal(int pid, string signal)
    {
        using var p = Process.Start("kill", ["-" + signal, pid.ToString()])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private int GatewayPid()
    {
        Assert.NotNull(gw.RgwPidFile);
        return int.Parse(File.ReadAllText(gw.RgwPidFile!).Trim());
    }

    /// <summary>Runs <paramref name="whileFrozen"/> with radosgw stopped; it is always continued afterwards.</summary>
    private async Task FrozenAsync(Func<Task> whileFrozen)
    {
        int pid = GatewayPid();
        Signal(pid, "STOP");
        try { await whileFrozen().WaitAsync(TimeSpan.FromSeconds(60)); }
        finally { Signal(pid, "CONT"); }
    }

    [Fact]
    public async Task AFrozenGatewayGivesATimeoutWithinTheDeadlineAndWorkAfterwards()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket, timeoutSeconds: 1, attempts: 1);
        await client.PutAsync("s/a", new byte[3], noReplace: false);

        S3TimeoutException e = null!;
        await FrozenAsync(async () => e = await Assert.ThrowsAsync<S3TimeoutException>(() => client.GetAsync("s/a")));
        Assert.Equal(TimeSpan.FromSeconds(1), e.Deadline);
        Assert.Contains("within 1 s", e.Message);

        using var fresh = gw.Client(bucket, timeoutSeconds: 10);
        Assert.Equal(3, (await fresh.GetAsync("s/a"))!.Length);
    }

    [Fact]
    public async Task AFrozenGatewayCostsOneDeadlineThenRequestsFailFastAndTheClientRecoversAfterSigcont()
    {
        const double timeout = 2;
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket, timeoutSeconds: timeout, attempts: 3);
        await client.PutAsync("s/a", new byte[3], noReplace: false);
        await client.PutAsync("s/b", new byte[5], noReplace: false);
        var bound = TimeSpan.FromSeconds(timeout) + FaultTiming.Margin;

        TimeSpan first = default, second = default;
        var resumed = new Stopwatch();
        await FrozenAsync(async () =>
        {
            var (e1, t1) = await FaultTiming.FailsAsync<S3TimeoutException>(() => client.GetAsync("s/a"), bound);
            first = t1;
            Assert.Contains("fail at once", e1.Message);
            var (_, t2) = await FaultTiming.FailsAsync<S3UnavailableException>(() => client.GetAsync("s/b"), bound);
            second = t2;
            Assert.True(client.Breaker!.IsOpen);
        });
        resumed.Start();
        var recovered = await FaultTiming.UntilSucceedsAsync(() => client.GetAsync("s/b"), TimeSpan.FromSeconds(20));
        output.WriteLine($"frozen gateway, {timeout} s deadline: timeout after {first.TotalSeconds:0.00} s, next request failed in " +
                         $"{second.TotalMilliseconds:0} ms, working again {recovered.TotalSeconds:0.00} s after SIGCONT");
        Assert.InRange(first.TotalSeconds, timeout - 0.1, bound.TotalSeconds);
        Assert.True(second < TimeSpan.FromSeconds(1), $"fail-fast took {second}");
        Assert.Equal(3, (await client.GetAsync("s/a"))!.Length);
        Assert.False(client.Breaker!.IsOpen);
    }

    [Fact]
    public async Task ABackupIntoAFrozenGatewayFailsWithinTheDeadlineWithoutASnapshot()
    {
        var bucket = await gw.NewBucketAsync();
        using var dir = new TempDir();
        var root = Path.Combine(dir.Path, "cache");
        S3Datastore.Init(root, gw.Config(bucket, timeoutSeconds: 2, attempts: 3, capacity: 1000), gw.Credentials);
        var group = BackupGroup.Parse("host/frozen");
        var data = new byte[8 * 64 * 1024];
        new Random(3).NextBytes(data);
        using var s3 = S3Datastore.Open(root, new S3OpenOptions { AdoptCachedChunks = false, Warn = _ => { } });
        var ds = s3.ToDataStore();
        await FrozenAsync(async () =>
        {
            var (e, t) = await FaultTiming.FailsAsync<BackupFsException>(async () =>
            {
                await using var w = await BackupStarter.BeginAsync(ds, group, new BackupOptions { BackupTime = 1000 });
                var f = w.CreateFixedArchive("disk.img.fidx", 64 * 1024);
                f.Write(data);
                await w.CloseArchiveAsync(f);
                await w.FinishAsync();
            }, TimeSpan.FromSeconds(2) + FaultTiming.Margin);
            output.WriteLine($"backup into the frozen gateway failed after {t.TotalSeconds:0.00} s: {e.Message}");
            Assert.True(e is IBackendUnreachable, e.ToString());
        });
        Assert.Empty(ds.ListFinishedSnapshots(group));
        Assert.DoesNotContain(await gw.KeysAsync(bucket, "store1/.cnt/"), k => k.EndsWith("index.json.blob"));
    }
}
