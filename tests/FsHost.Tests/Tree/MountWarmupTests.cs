using BackupFs.FsHost.Tree;

namespace BackupFs.FsHost.Tests.Tree;

public class MountWarmupTests
{
    [Fact]
    public async Task WarmupRunsAndLeavesNothingBehind()
    {
        var pattern = $"backupfs-warmup-{Environment.ProcessId}-*";
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        await MountWarmup.RunAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Empty(Directory.GetDirectories(root, pattern));
        // Cancelled before it starts: returns by throwing nothing but cancellation, and cleans up too.
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => MountWarmup.RunAsync(cancelled.Token));
        Assert.Empty(Directory.GetDirectories(root, pattern));
    }
}
