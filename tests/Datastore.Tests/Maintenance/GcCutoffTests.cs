using BackupFs.Datastore.Maintenance;

namespace BackupFs.Datastore.Tests.Maintenance;

public class GcCutoffTests
{
    private const long Start = 1_750_000_000;

    [Fact]
    public void WithoutRunningBackupsTheCutoffIsADayAndFiveMinutes()
    {
        var c = GcCutoff.Compute(Start, null, GcCutoff.DefaultAtimeCutoff);
        Assert.Equal(Start - 86_700, c.MinAtime);
        Assert.Equal(Start, c.OldestWriter);
        Assert.Equal(SweepDecision.Remove, c.Classify(Start - 86_701));
        Assert.Equal(SweepDecision.Pending, c.Classify(Start - 86_700));
        Assert.Equal(SweepDecision.Pending, c.Classify(Start - 1));
        Assert.Equal(SweepDecision.Keep, c.Classify(Start));
    }

    [Fact]
    public void ABackupOlderThanTheCutoffMovesItToItsStartMinusFiveMinutes()
    {
        long writer = Start - 200_000;
        var c = GcCutoff.Compute(Start, writer, GcCutoff.DefaultAtimeCutoff);
        Assert.Equal(writer - 300, c.MinAtime);
        Assert.Equal(SweepDecision.Pending, c.Classify(writer - 300));
        Assert.Equal(SweepDecision.Keep, c.Classify(writer));
    }

    [Fact]
    public void AYoungerBackupLeavesTheCutoffButExtendsPending()
    {
        long writer = Start - 3600;
        var c = GcCutoff.Compute(Start, writer, GcCutoff.DefaultAtimeCutoff);
        Assert.Equal(Start - 86_700, c.MinAtime);
        Assert.Equal(SweepDecision.Pending, c.Classify(writer - 1));
        Assert.Equal(SweepDecision.Keep, c.Classify(writer));
    }

    [Fact]
    public void CutoffZeroWithABackupRunning()
    {
        var c = GcCutoff.Compute(Start, Start - 10, TimeSpan.Zero);
        Assert.Equal(Start - 310, c.MinAtime);
        Assert.Throws<ArgumentOutOfRangeException>(() => GcCutoff.Compute(Start, null, TimeSpan.FromSeconds(-1)));
    }
}
