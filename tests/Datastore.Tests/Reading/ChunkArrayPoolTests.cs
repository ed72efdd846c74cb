using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Tests.Reading;

public class ChunkArrayPoolTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public void An_idle_array_a_little_larger_is_reused_for_a_smaller_request()
    {
        var pool = new ChunkArrayPool(idleLimitBytes: 64L * MiB);
        var five = pool.Rent(5 * MiB);
        pool.Return(five);
        Assert.Same(five, pool.Rent(4 * MiB + 1));
        Assert.Equal(0, pool.IdleBytes);
    }

    [Fact]
    public void The_smallest_fitting_idle_array_is_taken()
    {
        var pool = new ChunkArrayPool(idleLimitBytes: 64L * MiB);
        var six = pool.Rent(6 * MiB);
        var five = pool.Rent(5 * MiB);
        pool.Return(six);
        pool.Return(five);
        Assert.Same(five, pool.Rent(4 * MiB + 1));
        Assert.Same(six, pool.Rent(4 * MiB + 1));
    }

    [Fact]
    public void An_idle_array_more_than_half_again_too_large_is_left_idle()
    {
        var pool = new ChunkArrayPool(idleLimitBytes: 64L * MiB);
        var eight = pool.Rent(8 * MiB);
        pool.Return(eight);
        var small = pool.Rent(2 * MiB);
        Assert.NotSame(eight, small);
        Assert.Equal(2 * MiB, small.Length);
        Assert.Equal(8L * MiB, pool.IdleBytes);
    }

    [Fact]
    public void Idle_bytes_stay_within_the_limit()
    {
        var pool = new ChunkArrayPool(idleLimitBytes: 10L * MiB);
        var arrays = Enumerable.Range(0, 4).Select(_ => pool.Rent(4 * MiB)).ToList();
        foreach (var a in arrays) pool.Return(a);
        Assert.Equal(8L * MiB, pool.IdleBytes);
    }

    [Fact]
    public void Arrays_are_never_smaller_than_asked_for()
    {
        var pool = new ChunkArrayPool(idleLimitBytes: 64L * MiB);
        foreach (int length in new[] { 0, 1, 65_537, MiB + 1, 4 * MiB + 7, 9 * MiB })
        {
            var a = pool.Rent(length);
            Assert.True(a.Length >= length);
            pool.Return(a);
        }
    }
}
