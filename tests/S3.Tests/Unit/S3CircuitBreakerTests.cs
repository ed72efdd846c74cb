using System.Diagnostics;
using System.Net;
using Amazon.S3;
using BackupFs.S3.Client;

namespace BackupFs.S3.Tests.Unit;

/// <summary>The breaker alone, with a scripted probe: opens on network faults only, fails fast, closes after a probe got an answer.</summary>
public class S3CircuitBreakerTests
{
    private static readonly S3CircuitBreakerOptions Quick = new()
    {
        ProbeTimeout = TimeSpan.FromMilliseconds(300),
        FirstProbeDelay = TimeSpan.FromMilliseconds(50),
        MaxProbeInterval = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>A probe that hangs (until cancelled) while the endpoint is "down", or answers as told.</summary>
    private sealed class ScriptedEndpoint
    {
        public volatile bool Down = true;
        public Exception? Answer;
        public async Task Probe(CancellationToken ct)
        {
            if (Down) await Task.Delay(Timeout.Infinite, ct);
            if (Answer != null) throw Answer;
        }
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > limit) throw new TimeoutException("condition not met in time");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task ATimeoutOpensItFailsFastAndAnAnsweringProbeClosesIt()
    {
        var endpoint = new ScriptedEndpoint();
        var log = new List<string>();
        using var breaker = new S3CircuitBreaker(endpoint.Probe, "http://127.0.0.1:9", Quick, m => { lock (log) log.Add(m); });
        var inFlight = breaker.Token;

        Assert.True(breaker.Trip(new S3TimeoutException("S3 GET 'k' got no answer", TimeSpan.FromSeconds(30))));
        Assert.True(breaker.IsOpen);
        Assert.True(inFlight.IsCancellationRequested);          // requests in flight end with the first failure
        Assert.False(breaker.Trip(new S3TimeoutException("again", TimeSpan.FromSeconds(30))));   // opened once

        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<S3UnavailableException>(() => breaker.ThrowIfOpen("S3 GET 'x'"));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1));
        Assert.Contains("not answering", e.Message);
        Assert.Contains("no answer within 30 s", e.Message);

        await WaitUntil(() => breaker.Probes >= 2, TimeSpan.FromSeconds(10));   // probes keep failing while it is down
        Assert.True(breaker.IsOpen);

        endpoint.Down = false;
        await WaitUntil(() => !breaker.IsOpen, TimeSpan.FromSeconds(5));
        breaker.ThrowIfOpen("S3 GET 'x'");
        Assert.False(breaker.Token.IsCancellationRequested);      // a fresh generation for new requests
        Assert.Equal(1, breaker.Recoveries);
        lock (log) Assert.Contains(log, l => l.Contains("answers again"));
    }

    [Fact]
    public async Task AnHttpErrorFromTheProbeCountsAsAnAnswer()
    {
        var endpoint = new ScriptedEndpoint { Down = false, Answer = new AmazonS3Exception("Forbidden") { StatusCode = HttpStatusCode.Forbidden } };
        using var breaker = new S3CircuitBreaker(endpoint.Probe, "http://127.0.0.1:9", Quick, _ => { });
        breaker.Trip(new S3ConnectionException("cannot reach S3 endpoint: Connection refused"));
        await WaitUntil(() => !breaker.IsOpen, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void HttpErrorsDoNotOpenIt()
    {
        using var breaker = new S3CircuitBreaker(new ScriptedEndpoint().Probe, "http://127.0.0.1:9", Quick, _ => { });
        Assert.False(breaker.Trip(new S3RequestException("S3 is throttling requests (503 SlowDown)", HttpStatusCode.ServiceUnavailable, "SlowDown", true)));
        Assert.False(breaker.Trip(new S3RequestException("S3 denied access", HttpStatusCode.Forbidden, "AccessDenied", false)));
        Assert.False(breaker.IsOpen);
        breaker.ThrowIfOpen("S3 GET 'x'");
    }
}
