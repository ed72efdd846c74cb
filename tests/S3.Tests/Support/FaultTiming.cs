using System.Diagnostics;

namespace BackupFs.S3.Tests.Support;

/// <summary>Runs an operation that is expected to fail, with a hard bound on the test's own wait, and times it.</summary>
public static class FaultTiming
{
    /// <summary>Margin over a configured deadline for a loaded 2-core machine (start-up, scheduling).</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(3);

    public static async Task<(TException Error, TimeSpan Elapsed)> FailsAsync<TException>(Func<Task> operation, TimeSpan bound)
        where TException : Exception
    {
        var sw = Stopwatch.StartNew();
        var task = operation();
        try
        {
            await task.WaitAsync(bound);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            throw new Xunit.Sdk.XunitException($"the operation did not end within {bound.TotalSeconds} s");
        }
        catch (TException e)
        {
            return (e, sw.Elapsed);
        }
        throw new Xunit.Sdk.XunitException($"the operation succeeded; expected {typeof(TException).Name}");
    }

    /// <summary>Repeats <paramref name="attempt"/> until it succeeds; returns how long that took.</summary>
    public static async Task<TimeSpan> UntilSucceedsAsync(Func<Task> attempt, TimeSpan bound)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await attempt().WaitAsync(bound);
                return sw.Elapsed;
            }
            catch (Exception) when (sw.Elapsed < bound)
            {
                await Task.Delay(100);
            }
        }
    }
}
