using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>The maintenance commands end to end: protect, prune (dry run and real), forget, verify, gc, owner, namespaces.</summary>
public class MaintenanceCliTests : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task PruneProtectForgetVerifyAndGcWorkTogether()
    {
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        await CliRunner.RunOkAsync("init", store);
        var snapshots = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            File.WriteAllBytes(Path.Combine(src, "data.bin"), RandomBytes(300_000, i)); // each backup has its own chunk
            snapshots.Add((await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "h", "--time", $"2025-01-0{i + 1}T12:00:00Z")).Trim());
        }
        await CliRunner.RunOkAsync("protect", store, snapshots[0]);

        var plan = await CliRunner.RunOkAsync("prune", store, "host/h", "--keep-last", "1", "--dry-run");
        Assert.Contains("dry run: would keep 2, remove 2", plan);
        Assert.Equal(4, CountLines(await CliRunner.RunOkAsync("snapshots", store)));

        var pruned = await CliRunner.RunOkAsync("prune", store, "host/h", "--keep-last", "1");
        Assert.Contains("removed 2", pruned);
        var left = await CliRunner.RunOkAsync("snapshots", store);
        Assert.Contains(snapshots[0], left);   // protected
        Assert.Contains(snapshots[3], left);   // newest
        Assert.Equal(2, CountLines(left));

        var (code, _, err) = await CliRunner.RunAsync("forget", store, snapshots[0]);
        Assert.Equal(1, code);
        Assert.Contains("protected", err);
        await CliRunner.RunOkAsync("unprotect", store, snapshots[0]);
        await CliRunner.RunOkAsync("forget", store, snapshots[0]);
        Assert.Equal(1, CountLines(await CliRunner.RunOkAsync("snapshots", store)));

        // Age every chunk: GC's mark gives referenced ones a fresh atime, the rest fall behind the cutoff.
        foreach (var f in Directory.EnumerateFiles(Path.Combine(store, ".chunks"), "*", SearchOption.AllDirectories))
            File.SetLastAccessTimeUtc(f, DateTime.UtcNow.AddDays(-2));
        var gc = await CliRunner.RunOkAsync("gc", store, "--cutoff-seconds", "3600");
        Assert.Matches(@"removed: [1-9]\d* chunks", gc);
        var verify = await CliRunner.RunOkAsync("verify", store);
        Assert.Contains("1 ok, 0 failed", verify);

        Assert.Equal("root@pam", (await CliRunner.RunOkAsync("owner", store, "host/h")).Trim());
        await CliRunner.RunOkAsync("owner", store, "host/h", "backup@pbs");
        Assert.Equal("backup@pbs", (await CliRunner.RunOkAsync("owner", store, "host/h")).Trim());

        await CliRunner.RunOkAsync("ns", "create", store, "team");
        await CliRunner.RunOkAsync("ns", "create", store, "team/a");
        Assert.Equal("team\nteam/a", (await CliRunner.RunOkAsync("ns", "list", store)).Trim().ReplaceLineEndings("\n"));
        var (rc, _, rerr) = await CliRunner.RunAsync("ns", "remove", store, "team");
        Assert.Equal(1, rc);
        Assert.StartsWith("error: ", rerr);
    }

    [Fact]
    public async Task VerifyReportsACorruptChunkAndExitsNonZero()
    {
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "data.bin"), RandomBytes(200_000, 42));
        await CliRunner.RunOkAsync("init", store);
        await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "v");
        var chunk = Directory.EnumerateFiles(Path.Combine(store, ".chunks"), "*", SearchOption.AllDirectories).First();
        var bytes = File.ReadAllBytes(chunk);
        bytes[^1] ^= 0x55;
        File.WriteAllBytes(chunk, bytes);

        var (code, output, _) = await CliRunner.RunAsync("verify", store);
        Assert.Equal(2, code);
        Assert.Contains("failed", output);
        Assert.True(File.Exists(chunk + ".0.bad"));
        Assert.False(File.Exists(chunk));
    }

    private static int CountLines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }
}
