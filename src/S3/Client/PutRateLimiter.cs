using System.Diagnostics;

namespace BackupFs.S3.Client;

/// <summary>
/// Token bucket for PUT requests (PBS's put-rate-limit): <c>rate</c> tokens per second, burst = rate
/// (at least one). Callers reserve a token and sleep until it is due, so waiting is fair (FIFO by
/// reservation) and the long-run rate never exceeds the limit.
/// </summary>
public sealed class PutRateLimiter
{
    private readonly double _rate, _burst;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _lastTicks;

    public double RequestsPerSecond => _rate;

    public PutRateLimiter(double requestsPerSecond)
    {
        if (!(requestsPerSecond > 0) || double.IsInfinity(requestsPerSecond))
            throw new ArgumentOutOfRangeException(nameof(requestsPerSecond), "the rate must be positive");
        _rate = requestsPerSecond;
        _burst = Math.Max(1, requestsPerSecond);
        _tokens = _burst;
        _lastTicks = Stopwatch.GetTimestamp();
    }

    /// <summary>How long the next caller must wait; reserves its token.</summary>
    internal TimeSpan Reserve()
    {
        lock (_lock)
        {
            long now = Stopwatch.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + Stopwatch.GetElapsedTime(_lastTicks, now).TotalSeconds * _rate);
            _lastTicks = now;
            _tokens -= 1;
            return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _rate);
        }
    }

    public Task WaitAsync(CancellationToken ct)
    {
        var wait = Reserve();
        return wait <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(wait, ct);
    }
}
