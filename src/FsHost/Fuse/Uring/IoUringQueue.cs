using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Fuse.Interop;
using BackupFs.FsHost.Fuse.Protocol;
using static BackupFs.FsHost.Fuse.Interop.IoUringNative;

namespace BackupFs.FsHost.Fuse.Uring;

/// <summary>
/// One FUSE io_uring queue: an io_uring (SQE128) with <c>depth</c> ring entries, served by one
/// thread pinned to the queue's CPU (the kernel queues a request on the queue of the CPU its
/// caller runs on). Each entry is a REGISTER'd header area + payload buffer; a request arrives as
/// a completion, and its reply is one COMMIT_AND_FETCH SQE that also re-arms the entry.
///
/// Only the queue's own thread submits SQEs: io_uring runs a command's later work in the task that
/// submitted it, so a reply finished on another thread is handed over through a queue and an
/// eventfd whose read is always pending in the ring.
/// </summary>
internal sealed unsafe class IoUringQueue : IRequestTransport, IDisposable
{
    private const uint CmdRegister = 1, CmdCommitAndFetch = 2; // FUSE_IO_URING_CMD_*
    private const int HeaderAreaSize = 4096;   // struct fuse_uring_req_header (288 bytes) + our iovec[2] at 512
    private const int OpInOffset = 128, EntInOutOffset = 256, IovecOffset = 512, OpInSize = 128;
    private const ulong WakeTag = ulong.MaxValue;
    private const int ECANCELED = 125, ENOTCONN = 107;

    private readonly int _qid;
    private readonly int _deviceFd;
    private readonly FuseDispatcher _dispatcher;
    private readonly Action<string> _log;
    private readonly ConcurrentQueue<RequestSlot> _handedOver = new();
    private readonly RequestSlot[] _slots;
    private readonly NativeBuffer[] _headers;
    /// <summary>Requests of each entry not yet recycled: a count, since the entry's next request can
    /// arrive (its reply committed) before the previous one's operation has finished recycling.</summary>
    private readonly int[] _inFlight;
    private readonly Lock _lifecycle = new();
    private readonly ulong* _wakeValue;
    private int _ringFd = -1;
    private int _eventFd = -1;
    private byte* _sqRing, _cqRing, _sqes;
    private nuint _sqRingSize, _cqRingSize, _sqesSize;
    private uint* _sqTail, _sqArray, _cqHead, _cqTail;
    private uint _sqMask, _cqMask, _localTail, _toSubmit;
    private Cqe* _cqes;
    private Thread? _thread;
    private int _threadId;
    private volatile bool _stopping;
    private bool _freed;
    private int _failureLogged;
    /// <summary>When the handler the queue's thread runs now started (Environment.TickCount64), 0 while idle.</summary>
    private long _handlerSince;
    private long _stallReported;
    private FuseOpcode _handlerOpcode;

    private IoUringQueue(int qid, int depth, int deviceFd, int payloadSize, FuseDispatcher dispatcher, Action<string> log)
    {
        _qid = qid; _deviceFd = deviceFd; _dispatcher = dispatcher; _log = log;
        _slots = new RequestSlot[depth];
        _headers = new NativeBuffer[depth];
        _inFlight = new int[depth];
        _wakeValue = (ulong*)NativeMemory.AllocZeroed(8);
        for (var i = 0; i < depth; i++)
        {
            _headers[i] = new NativeBuffer(HeaderAreaSize);
            _headers[i].GetSpan().Clear();
            _slots[i] = new RequestSlot(_headers[i], new NativeBuffer(payloadSize), dispatcher, this) { RingEntry = i };
            var iov = (LibC.IoVec*)(_headers[i].Pointer + IovecOffset);
            iov[0] = new LibC.IoVec { Base = _headers[i].Pointer, Length = 288 };
            iov[1] = new LibC.IoVec { Base = _slots[i].ReplyPayload, Length = (nuint)payloadSize };
        }
    }

    /// <summary>Creates the ring (not yet registered with FUSE); null with the reason in <paramref name="error"/>.</summary>
    public static IoUringQueue? TryCreate(int qid, int depth, int deviceFd, int payloadSize, FuseDispatcher dispatcher, Action<string> log, out string? error)
    {
        var queue = new IoUringQueue(qid, depth, deviceFd, payloadSize, dispatcher, log);
        error = queue.SetUpRing((uint)depth);
        if (error is null) return queue;
        queue.Dispose();
        return null;
    }

    private string? SetUpRing(uint depth)
    {
        var p = new Params { Flags = SetupSqe128 | SetupCqSize, CqEntries = 2 * (depth + 1) };
        var fd = Setup(depth + 1, &p);
        if (fd < 0) return $"io_uring_setup failed: {LibC.Describe(-fd)}";
        _ringFd = fd;
        _sqRingSize = p.SqOff.Array + p.SqEntries * sizeof(uint);
        _cqRingSize = p.CqOff.Cqes + p.CqEntries * (uint)CqeSize;
        if ((p.Features & FeatSingleMmap) != 0) _sqRingSize = _cqRingSize = Math.Max(_sqRingSize, _cqRingSize);
        _sqRing = (byte*)Mmap(null, _sqRingSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffSqRing);
        if (_sqRing == MapFailed) { _sqRing = null; return $"mmap of the SQ ring failed: {LibC.Describe(LibC.LastErrno)}"; }
        if ((p.Features & FeatSingleMmap) != 0) _cqRing = _sqRing;
        else
        {
            _cqRing = (byte*)Mmap(null, _cqRingSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffCqRing);
            if (_cqRing == MapFailed) { _cqRing = null; return $"mmap of the CQ ring failed: {LibC.Describe(LibC.LastErrno)}"; }
        }
        _sqesSize = p.SqEntries * (uint)Sqe128Size;
        _sqes = (byte*)Mmap(null, _sqesSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffSqes);
        if (_sqes == MapFailed) { _sqes = null; return $"mmap of the SQEs failed: {LibC.Describe(LibC.LastErrno)}"; }
        _sqTail = (uint*)(_sqRing + p.SqOff.Tail);
        _sqMask = *(uint*)(_sqRing + p.SqOff.RingMask);
        _sqArray = (uint*)(_sqRing + p.SqOff.Array);
        _cqHead = (uint*)(_cqRing + p.CqOff.Head);
        _cqTail = (uint*)(_cqRing + p.CqOff.Tail);
        _cqMask = *(uint*)(_cqRing + p.CqOff.RingMask);
        _cqes = (Cqe*)(_cqRing + p.CqOff.Cqes);
        _localTail = Volatile.Read(ref *_sqTail);
        _eventFd = EventFd(0, EfdCloexec);
        if (_eventFd < 0) return $"eventfd failed: {LibC.Describe(LibC.LastErrno)}";
        return null;
    }

    /// <summary>Starts the queue's thread, which registers every entry (after the INIT reply).</summary>
    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = $"fuse-uring-{_qid}" };
        _thread.Start();
    }

    private void Run()
    {
        _threadId = Environment.CurrentManagedThreadId;
        PinToCpu();
        try
        {
            for (var i = 0; i < _slots.Length; i++) PushCommand(i, CmdRegister, 0);
            PushWakeRead();
            while (!_stopping)
            {
                while (_handedOver.TryDequeue(out var slot)) PushCommit(slot);
                var r = Enter(_ringFd, _toSubmit, 1, EnterGetEvents);
                if (r < 0)
                {
                    if (-r is LibC.EINTR or LibC.EAGAIN or 16 /* EBUSY: completions first */) { Reap(); continue; }
                    _log($"fuse: io_uring queue {_qid} stopped: {LibC.Describe(-r)}");
                    break;
                }
                _toSubmit -= (uint)Math.Min(r, (int)_toSubmit);
                Reap();
            }
        }
        catch (Exception e)
        {
            _log($"fuse: io_uring queue {_qid} failed: {e}");
        }
    }

    private void PinToCpu()
    {
        if (_qid >= 64) return;
        var mask = 1UL << _qid;
        SchedSetAffinity(0, sizeof(ulong), &mask); // best effort: routing works unpinned too
    }

    private void Reap()
    {
        var head = Volatile.Read(ref *_cqHead);
        var tail = Volatile.Read(ref *_cqTail); // acquire: the CQEs up to tail are written
        while (head != tail)
        {
            var cqe = _cqes[head & _cqMask];
            head++;
            Volatile.Write(ref *_cqHead, head); // release: the kernel may reuse the CQE slot
            if (cqe.UserData == WakeTag) { if (!_stopping) PushWakeRead(); continue; }
            Completed((int)cqe.UserData, cqe.Res);
        }
    }

    private void Completed(int entry, int result)
    {
        if ((uint)entry >= (uint)_slots.Length) return;
        if (result < 0)
        {
            // ENOTCONN / ECANCELED: the connection is going away; anything else ends this entry too.
            if (-result is not (ENOTCONN or ECANCELED) && Interlocked.Exchange(ref _failureLogged, 1) == 0)
                _log($"fuse: io_uring entry of queue {_qid} failed: {LibC.Describe(-result)}");
            return;
        }
        var slot = _slots[entry];
        var headers = _headers[entry].Pointer;
        var inOut = (FuseUringEntInOut*)(headers + EntInOutOffset);
        slot.CommitId = inOut->CommitId;
        if (!slot.DecodeRingRequest(headers, headers + OpInOffset, OpInSize, (int)inOut->PayloadSize))
        {
            _log($"fuse: dropped a malformed io_uring request ({slot.Header.Opcode}, {inOut->PayloadSize} payload bytes)");
            Send(slot, 0, -LibC.EINVAL);
            return;
        }
        lock (_lifecycle) _inFlight[entry]++;
        bool owned;
        _handlerOpcode = slot.Header.Opcode;
        Volatile.Write(ref _handlerSince, Environment.TickCount64);
        try { owned = _dispatcher.Dispatch(slot); }
        catch (Exception e) { _log($"fuse: request failed outside its handler: {e.GetType().Name}: {e.Message}"); owned = false; }
        finally { Volatile.Write(ref _handlerSince, 0); }
        if (owned) return; // the reply comes from the completing thread
        if (!slot.Replied) Send(slot, 0, -5 /* EIO: every ring request needs a commit to re-arm its entry */);
        Recycle(slot);
    }

    /// <summary>Logs (once per request) a handler that has held this queue's thread for at least <paramref name="after"/>.</summary>
    public void ReportStall(long now, TimeSpan after)
    {
        var since = Volatile.Read(ref _handlerSince);
        if (since == 0 || now - since < (long)after.TotalMilliseconds || Interlocked.Exchange(ref _stallReported, since) == since) return;
        _log($"fuse: a {FuseRequestCounters.NameOf((uint)_handlerOpcode)} request has run for {(now - since) / 1000.0:F1} s on io_uring queue {_qid}; requests from CPU {_qid} wait for it");
    }

    public void Send(RequestSlot slot, int payloadLength, int error)
    {
        var h = (FuseOutHeader*)slot.ReplyPointer;
        h->Length = (uint)(RequestSlot.OutHeaderSize + payloadLength);
        h->Error = error;
        h->Unique = slot.Header.Unique;
        ((FuseUringEntInOut*)(slot.ReplyPointer + EntInOutOffset))->PayloadSize = (uint)payloadLength;
        if (Environment.CurrentManagedThreadId == _threadId) { PushCommit(slot); return; }
        _handedOver.Enqueue(slot);
        var one = 1UL;
        lock (_lifecycle) if (_eventFd >= 0) LibC.Write(_eventFd, (byte*)&one, sizeof(ulong)); // wakes the queue's thread
    }

    /// <summary>The ring's payload buffer is fixed per entry: the slices are copied into it.</summary>
    public void SendSlices(RequestSlot slot, ReadSlices slices)
    {
        slices.FlatRemaining();
        Send(slot, slices.Length, 0);
    }

    public void Recycle(RequestSlot slot)
    {
        lock (_lifecycle)
        {
            // The queue was stopped while this request was out: the last one out frees the entry.
            if (--_inFlight[slot.RingEntry] == 0 && _freed) slot.Dispose();
        }
    }

    private void PushCommit(RequestSlot slot)
    {
        if (_stopping) return;
        PushCommand(slot.RingEntry, CmdCommitAndFetch, slot.CommitId);
    }

    private void PushCommand(int entry, uint command, ulong commitId)
    {
        var sqe = NextSqe();
        sqe->Opcode = OpUringCmd;
        sqe->Fd = _deviceFd;
        sqe->Off = command; // cmd_op
        if (command == CmdRegister)
        {
            sqe->Addr = (ulong)(_headers[entry].Pointer + IovecOffset);
            sqe->Len = 2;
        }
        sqe->UserData = (ulong)entry;
        var req = (FuseUringCmdReq*)((byte*)sqe + 48);
        req->CommitId = commitId;
        req->QueueId = (ushort)_qid;
        Publish();
    }

    private void PushWakeRead()
    {
        var sqe = NextSqe();
        sqe->Opcode = OpRead;
        sqe->Fd = _eventFd;
        sqe->Addr = (ulong)_wakeValue;
        sqe->Len = sizeof(ulong);
        sqe->Off = ulong.MaxValue; // the file position (an eventfd has none)
        sqe->UserData = WakeTag;
        Publish();
    }

    private Sqe* NextSqe()
    {
        var sqe = (Sqe*)(_sqes + (_localTail & _sqMask) * Sqe128Size);
        new Span<byte>(sqe, Sqe128Size).Clear();
        return sqe;
    }

    private void Publish()
    {
        _sqArray[_localTail & _sqMask] = _localTail & _sqMask;
        _localTail++;
        _toSubmit++;
        Volatile.Write(ref *_sqTail, _localTail); // release: the SQE is complete before the kernel sees the tail
    }

    /// <summary>Stops the thread and closes the ring; buffers of requests still out are freed when they finish.</summary>
    public void Dispose()
    {
        _stopping = true;
        if (_eventFd >= 0)
        {
            var one = 1UL;
            LibC.Write(_eventFd, (byte*)&one, sizeof(ulong));
        }
        if (_thread is { } t && t.ManagedThreadId != Environment.CurrentManagedThreadId) t.Join(TimeSpan.FromSeconds(5));
        if (_sqes != null) Munmap(_sqes, _sqesSize);
        if (_cqRing != null && _cqRing != _sqRing) Munmap(_cqRing, _cqRingSize);
        if (_sqRing != null) Munmap(_sqRing, _sqRingSize);
        _sqes = _cqRing = _sqRing = null;
        if (_ringFd >= 0) LibC.Close(_ringFd); // cancels what is still registered
        _ringFd = -1;
        lock (_lifecycle)
        {
            if (_eventFd >= 0) LibC.Close(_eventFd);
            _eventFd = -1;
            if (_freed) return;
            _freed = true;
            for (var i = 0; i < _slots.Length; i++) if (_inFlight[i] == 0) _slots[i].Dispose();
        }
        NativeMemory.Free(_wakeValue);
    }
}
