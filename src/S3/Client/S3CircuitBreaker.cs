using System.Diagnostics;

namespace BackupFs.S3.Client;

/// <summary>Timing of the <see cref="S3CircuitBreaker"/>'s background probe.</summary>
public sealed record S3CircuitBreakerOptions
{
    /// <summary>Deadline of one probe request (short: it only has to show that the endpoint answers).</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>Wait before the first probe; doubled after each failed probe up to <see cref="MaxProbeInterval"/>.</summary>
    public TimeSpan FirstProbeDelay { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan MaxProbeInterval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Remembers that the endpoint stopped answering, so one hung request costs one deadline and not
/// one per request: after a request failed without any answer from the server (timeout, refused,
/// reset), the breaker opens, cancels the attempts still in flight, and every new request fails at
/// once with <see cref="S3UnavailableException"/>. A background probe (a cheap request with a
/// short deadline, repeated with back-off) closes it as soon as the endpoint answers anything,
/// even an HTTP error: the network works again, real requests report their own errors.
/// HTTP errors never open the breaker (the server is there; retries handle throttling).
/// </summary>
public sealed class S3CircuitBreaker : IDisposable
{
    private readonly Func<CancellationToken, Task> _probe;
    private readonly string _endpoint;
    private readonly S3CircuitBreakerOptions _options;
    private readonly Action<string> _log;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _disposed = new();
    private CancellationTokenSource _generation = new();
    private S3RequestException? _cause;
    private long _openedAt;
    private long _trips, _recoveries, _probes;

    /// <param name="probe">one cheap request; it counts as an answer when it completes or throws an HTTP error</param>
    /// <param name="log">gets one line when the breaker opens and one when it closes (a mount's log); null = silent (a command reports the error itself)</param>
    public S3CircuitBreaker(Func<CancellationToken, Task> probe, string endpoint, S3CircuitBreakerOptions? options = null, Action<string>? log = null)
    {
        _probe = probe;
        _endpoint = endpoint;
        _options = options ?? new S3CircuitBreakerOptions();
        _log = log ?? (_ => { });
    }

    public bool IsOpen { get { lock (_lock) return _cause != null; } }
    public long Trips => Interlocked.Read(ref _trips);
    public long Recoveries => Interlocked.Read(ref _recoveries);
    public long Probes => Interlocked.Read(ref _probes);

    /// <summary>Cancelled when the breaker opens: attempts link to it so none outlives the first failure.</summary>
    public CancellationToken Token { get { lock (_lock) return _generation.Token; } }

    /// <summary>True for failures that mean "no answer from the server": only those open the breaker.</summary>
    public static bool IsNetworkFault(S3RequestException e) => e is S3TimeoutException or S3ConnectionException;

    /// <exception cref="S3UnavailableException">the breaker is open</exception>
    public void ThrowIfOpen(string what)
    {
        S3RequestException? cause;
        long openedAt;
        lock (_lock) { cause = _cause; openedAt = _openedAt; }
        if (cause != null) throw Unavailable(what, cause, openedAt);
    }

    /// <summary>The failure to report for a request that was cancelled because the breaker opened.</summary>
    internal S3UnavailableException UnavailableNow(string what)
    {
        lock (_lock) return Unavailable(what, _cause, _openedAt);
    }

    private S3UnavailableException Unavailable(string what, S3RequestException? cause, long openedAt)
    {
        var ago = openedAt == 0 ? 0 : Stopwatch.GetElapsedTime(openedAt).TotalSeconds;
        return new S3UnavailableException($"S3 endpoint {_endpoint} is not answering ({Reason(cause)}, {ago:0.#} s ago); {what} was not sent", cause);
    }

    private static string Reason(S3RequestException? cause) => cause switch
    {
        S3TimeoutException t => $"no answer within {t.Deadline.TotalSeconds:0.###} s",
        null => "unknown",
        _ => cause.Message.Length > 160 ? cause.Message[..160] + "…" : cause.Message,
    };

    /// <summary>Opens the breaker after a network fault; true when this call opened it (false when open already or not a network fault).</summary>
    public bool Trip(S3RequestException failure)
    {
        if (!IsNetworkFault(failure)) return false;
        CancellationTokenSource old;
        lock (_lock)
        {
            if (_cause != null || _disposed.IsCancellationRequested) return false;
            _cause = failure;
            _openedAt = Stopwatch.GetTimestamp();
            old = _generation;
            _generation = new CancellationTokenSource();
        }
        Interlocked.Increment(ref _trips);
        _log($"S3 endpoint {_endpoint} stopped answering: {failure.Message}; S3 requests fail at once until it answers again");
        // Requests in flight to the same dead endpoint end now, not at their own deadlines. (The old
        // source is not disposed: an attempt may be linking to its token at this very moment.)
        old.Cancel();
        _ = Task.Run(ProbeLoopAsync);
        return true;
    }

    private async Task ProbeLoopAsync()
    {
        var delay = _options.FirstProbeDelay;
        while (!_disposed.IsCancellationRequested)
        {
            try { await Task.Delay(delay, _disposed.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            if (await ProbeAnswersAsync().ConfigureAwait(false))
            {
                double down;
                lock (_lock)
                {
                    down = Stopwatch.GetElapsedTime(_openedAt).TotalSeconds;
                    _cause = null;
                    _openedAt = 0;
                }
                Interlocked.Increment(ref _recoveries);
                _log($"S3 endpoint {_endpoint} answers again; S3 requests are sent again (they failed at once for {down:0.#} s)");
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxProbeInterval.Ticks));
        }
    }

    private async Task<bool> ProbeAnswersAsync()
    {
        Interlocked.Increment(ref _probes);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
        deadline.CancelAfter(_options.ProbeTimeout);
        var task = _probe(deadline.Token);
        try
        {
            await task.WaitAsync(deadline.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e)
        {
            if (!task.IsCompleted) _ = task.ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            return e is Amazon.Runtime.AmazonServiceException { StatusCode: not 0 };
        }
    }

    public void Dispose() => _disposed.Cancel();
}
