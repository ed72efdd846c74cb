namespace BackupFs.FsHost.Fuse.Uring;

/// <summary>
/// The io_uring transport of one connection: a queue per possible CPU (the kernel uses the ring
/// only once every queue has a registered entry). Rings are created before INIT so that
/// FUSE_OVER_IO_URING is only agreed when they exist (once agreed, the kernel holds requests back
/// until the queues are registered or a registration fails); entries register right after the INIT
/// reply. INIT, FORGET, INTERRUPT and notifications keep using /dev/fuse.
/// </summary>
internal sealed class IoUringQueues : IDisposable
{
    private readonly IoUringQueue[] _queues;
    private readonly Timer _stallWatch;
    private int _started;

    private IoUringQueues(IoUringQueue[] queues, TimeSpan stallReport)
    {
        _queues = queues;
        var period = stallReport / 4;
        _stallWatch = new Timer(_ =>
        {
            var now = Environment.TickCount64;
            foreach (var q in _queues) q.ReportStall(now, stallReport);
        }, null, period, period);
    }

    public int Count => _queues.Length;

    /// <summary>Creates every queue's ring, or none (null, with one log line saying why).</summary>
    public static IoUringQueues? TryCreate(FuseSessionOptions options, int deviceFd, FuseDispatcher dispatcher, Action<string> log)
    {
        var count = IoUringSupport.PossibleCpus();
        var payload = Math.Max(options.ReplyPayloadSize, Math.Max(8192, options.MaxWrite / 4096 * Environment.SystemPageSize));
        var queues = new List<IoUringQueue>();
        for (var qid = 0; qid < count; qid++)
        {
            var queue = IoUringQueue.TryCreate(qid, options.IoUringQueueDepth, deviceFd, payload, dispatcher, log, out var error);
            if (queue is null)
            {
                log($"fuse: io_uring not used ({error}); serving over /dev/fuse");
                foreach (var q in queues) q.Dispose();
                return null;
            }
            queues.Add(queue);
        }
        return new IoUringQueues(queues.ToArray(), options.IoUringStallReport);
    }

    /// <summary>Registers the entries of every queue (call after the INIT reply).</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) return;
        foreach (var q in _queues) q.Start();
    }

    public bool Started => Volatile.Read(ref _started) != 0;

    public void Dispose()
    {
        _stallWatch.Dispose();
        foreach (var q in _queues) q.Dispose();
    }
}
