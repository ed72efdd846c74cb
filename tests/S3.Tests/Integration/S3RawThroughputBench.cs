using System.Diagnostics;
using BackupFs.S3.Tests.Support;
using Xunit.Abstractions;

namespace BackupFs.S3.Tests.Integration;

/// <summary>Runs only with BACKUPFS_S3_BENCH=1: a quick measurement, never part of a normal test run.</summary>
public sealed class BenchFactAttribute : FactAttribute
{
    public BenchFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("BACKUPFS_S3_BENCH") != "1") Skip = "benchmark: set BACKUPFS_S3_BENCH=1";
    }
}

[Collection(S3GatewayCollection.Name)]
public class S3RawThroughputBench(S3GatewayFixture gw, ITestOutputHelper output)
{
    [BenchFact]
    public async Task RawPutAndGetOf4MiBObjects()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket, timeoutSeconds: 60);
        var data = new byte[4 << 20];
        new Random(1).NextBytes(data);
        foreach (int concurrency in new[] { 1, 8 })
        {
            int count = concurrency == 1 ? 24 : 48;
            var keys = Enumerable.Range(0, count).Select(i => $"bench/c{concurrency}/{i}").ToList();
            var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency };
            var sw = Stopwatch.StartNew();
            await Parallel.ForEachAsync(keys, options, async (k, ct) => await client.PutAsync(k, data, noReplace: true, ct));
            var put = sw.Elapsed;
            sw.Restart();
            long bytes = 0;
            await Parallel.ForEachAsync(keys, options, async (k, ct) => Interlocked.Add(ref bytes, (await client.GetAsync(k, ct))!.Length));
            var get = sw.Elapsed;
            Assert.Equal((long)count * data.Length, bytes);
            double mib = count * 4.0;
            output.WriteLine($"c={concurrency}: PUT {count / put.TotalSeconds:0} obj/s {mib / put.TotalSeconds:0} MiB/s; GET {count / get.TotalSeconds:0} obj/s {mib / get.TotalSeconds:0} MiB/s");
        }
        await client.DeletePrefixAsync("bench/");
    }
}
