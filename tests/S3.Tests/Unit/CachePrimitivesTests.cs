using BackupFs.Datastore.Formats;
using BackupFs.S3.Chunks;
using BackupFs.S3.Client;

namespace BackupFs.S3.Tests.Unit;

public class CachePrimitivesTests
{
    private static Digest D(int i) => Digest.Compute(BitConverter.GetBytes(i));

    [Fact]
    public void LruEvictsTheLeastRecentlyUsed()
    {
        var lru = new ChunkLru(3);
        Assert.Empty(lru.Add(D(1)));
        Assert.Empty(lru.Add(D(2)));
        Assert.Empty(lru.Add(D(3)));
        Assert.True(lru.Touch(D(1)));                 // order now 1,3,2
        Assert.Equal([D(2)], lru.Add(D(4)));
        Assert.Equal([D(3)], lru.Add(D(5)));
        Assert.Equal(3, lru.Count);
        Assert.True(lru.Contains(D(1)));
        Assert.False(lru.Touch(D(2)));
        lru.Remove(D(1));
        Assert.Equal(2, lru.Count);
    }

    [Fact]
    public async Task KeyedLockSerialisesOneKeyAndFreesItsEntry()
    {
        var locks = new KeyedAsyncLock<int>();
        var first = await locks.AcquireAsync(1);
        var second = locks.AcquireAsync(1).AsTask();
        var other = await locks.AcquireAsync(2);         // another key is not blocked
        Assert.False(second.IsCompleted);
        first.Dispose();
        (await second).Dispose();
        other.Dispose();
        Assert.Equal(0, locks.ActiveKeys);
    }

    [Fact]
    public void RateLimiterAllowsABurstThenSpacesRequests()
    {
        var burst = new PutRateLimiter(3);
        Assert.Equal(TimeSpan.Zero, burst.Reserve());
        Assert.Equal(TimeSpan.Zero, burst.Reserve());
        Assert.Equal(TimeSpan.Zero, burst.Reserve());

        // One request per 2 s: the next callers are spaced out (bounds generous for a busy machine).
        var limiter = new PutRateLimiter(0.5);
        Assert.Equal(TimeSpan.Zero, limiter.Reserve());
        var second = limiter.Reserve();
        var third = limiter.Reserve();
        Assert.True(second > TimeSpan.FromSeconds(1), $"second waits {second}");
        Assert.True(third > second + TimeSpan.FromSeconds(1), $"third waits {third}: reservations queue up");
        Assert.Throws<ArgumentOutOfRangeException>(() => new PutRateLimiter(0));
    }

    [Fact]
    public void RetryPolicyClassifiesErrors()
    {
        Assert.True(S3RetryPolicy.IsTransientStatus(System.Net.HttpStatusCode.ServiceUnavailable));
        Assert.True(S3RetryPolicy.IsTransientStatus(System.Net.HttpStatusCode.InternalServerError));
        Assert.True(S3RetryPolicy.IsTransientStatus(System.Net.HttpStatusCode.GatewayTimeout));
        Assert.False(S3RetryPolicy.IsTransientStatus(System.Net.HttpStatusCode.Forbidden));
        Assert.False(S3RetryPolicy.IsTransientStatus(System.Net.HttpStatusCode.NotFound));
        Assert.False(S3RetryPolicy.IsTransientStatus(System.Net.HttpStatusCode.PreconditionFailed));
        Assert.True(S3RetryPolicy.IsTransient(new HttpRequestException("reset")));
        Assert.True(S3RetryPolicy.IsTransient(new TimeoutException()));
        Assert.False(S3RetryPolicy.IsTransient(new InvalidOperationException()));
        var policy = new S3RetryPolicy(3, TimeSpan.FromSeconds(1));
        Assert.InRange(policy.DelayBefore(2).TotalSeconds, 0.75, 1.25);
        Assert.InRange(policy.DelayBefore(3).TotalSeconds, 2.25, 3.75);
    }
}
