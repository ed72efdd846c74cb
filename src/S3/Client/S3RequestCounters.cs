namespace BackupFs.S3.Client;

/// <summary>Requests sent to the object store, counted per attempt (retries count again).</summary>
public readonly record struct S3RequestCounts(long Put, long Get, long Head, long List, long Delete, long Copy)
{
    public long Total => Put + Get + Head + List + Delete + Copy;
    public static S3RequestCounts operator -(S3RequestCounts a, S3RequestCounts b) =>
        new(a.Put - b.Put, a.Get - b.Get, a.Head - b.Head, a.List - b.List, a.Delete - b.Delete, a.Copy - b.Copy);
}

public enum S3RequestKind { Put, Get, Head, List, Delete, Copy }

/// <summary>Thread-safe request counters (benchmarks and tests read them).</summary>
public sealed class S3RequestCounters
{
    private long _put, _get, _head, _list, _delete, _copy;

    public void Count(S3RequestKind kind)
    {
        switch (kind)
        {
            case S3RequestKind.Put: Interlocked.Increment(ref _put); break;
            case S3RequestKind.Get: Interlocked.Increment(ref _get); break;
            case S3RequestKind.Head: Interlocked.Increment(ref _head); break;
            case S3RequestKind.List: Interlocked.Increment(ref _list); break;
            case S3RequestKind.Delete: Interlocked.Increment(ref _delete); break;
            case S3RequestKind.Copy: Interlocked.Increment(ref _copy); break;
        }
    }

    public S3RequestCounts Snapshot() => new(Volatile.Read(ref _put), Volatile.Read(ref _get), Volatile.Read(ref _head),
        Volatile.Read(ref _list), Volatile.Read(ref _delete), Volatile.Read(ref _copy));
}
