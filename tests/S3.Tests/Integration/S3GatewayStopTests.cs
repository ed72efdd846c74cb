using System.Diagnostics;
using BackupFs.S3.Client;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

/// <summary>The real gateway process frozen with SIGSTOP (tests of this collection run one at a time).</summary>
[Collection(S3GatewayCollection.Name)]
public class S3GatewayStopTests(S3GatewayFixture gw)
{
    private static void Signal(int pid, string signal)
    {
        using var p = Process.Start("kill", ["-" + signal, pid.ToString()])!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public async Task AFrozenGatewayGivesATimeoutWithinTheDeadlineAndWorkAfterwards()
    {
        Assert.NotNull(gw.RgwPidFile);
        int pid = int.Parse(File.ReadAllText(gw.RgwPidFile!).Trim());
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket, timeoutSeconds: 1, attempts: 1);
        await client.PutAsync("s/a", new byte[3], noReplace: false);

        Signal(pid, "STOP");
        S3TimeoutException e;
        try
        {
            e = await Assert.ThrowsAsync<S3TimeoutException>(() => client.GetAsync("s/a"));
        }
        finally
        {
            Signal(pid, "CONT");
        }
        Assert.Equal(TimeSpan.FromSeconds(1), e.Deadline);
        Assert.Contains("within 1 s", e.Message);

        using var fresh = gw.Client(bucket, timeoutSeconds: 10);
        Assert.Equal(3, (await fresh.GetAsync("s/a"))!.Length);
    }
}
