using BackupFs.FsHost.Fuse.Protocol;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// Turns one kernel request into a call on <see cref="IFileSystem"/> and writes the reply with
/// the exact size the kernel expects. A handler whose task completed synchronously is answered
/// inline; otherwise the slot travels with the task and the reply is written by whichever
/// thread completes it. Every request except FORGET, BATCH_FORGET and INTERRUPT gets exactly one reply.
/// </summary>
internal sealed unsafe partial class FuseDispatcher
{
    private const int EPROTO = 71;
    private const int MaxErrno = 511;

    private readonly IFileSystem _fs;
    private readonly FuseDevice _device;
    private readonly FuseSessionOptions _options;
    private readonly CancellationToken _ending;
    private readonly Action<string> _log;
    private readonly Action _initialized;
    private readonly DeviceTransport _deviceTransport;
    private int _pending;
    private int _destroyed;

    public FuseDispatcher(IFileSystem fs, FuseDevice device, FuseSessionOptions options, CancellationToken ending, Action<string> log, Action initialized)
    {
        _fs = fs; _device = device; _options = options; _ending = ending; _log = log; _initialized = initialized;
        _deviceTransport = new DeviceTransport(this);
        Pool = new SlotPool(() => new RequestSlot(options.RequestBufferSize, options.ReplyPayloadSize, this, _deviceTransport), Math.Max(4, options.ReaderThreads * 2));
        Passthrough = new PassthroughFiles(device, log);
    }

    public SlotPool Pool { get; }

    /// <summary>Requests served, per opcode.</summary>
    public FuseRequestCounters Counters { get; } = new();

    /// <summary>Backing files registered for passthrough opens.</summary>
    internal PassthroughFiles Passthrough { get; }

    /// <summary>Called on the thread that wrote the INIT reply, right after it (io_uring entries
    /// may register only once the kernel has it). The argument says whether FUSE_OVER_IO_URING was agreed.</summary>
    public Action<bool>? InitReplied { get; set; }

    /// <summary>Set before INIT when io_uring queues exist, so FUSE_OVER_IO_URING may be agreed.</summary>
    public bool IoUringAvailable { get; set; }

    /// <summary>Offered by the kernel and asked for by us: requests may come over io_uring.</summary>
    public bool IoUringAgreed { get; private set; }

    /// <summary>Requests whose reply is still outstanding on some asynchronous path.</summary>
    public int PendingCount => Volatile.Read(ref _pending);

    /// <summary>The negotiated protocol minor version (0 until INIT).</summary>
    public uint NegotiatedMinor { get; private set; }

    /// <summary>Calls the filesystem's Destroy once (DESTROY request or session end).</summary>
    public void DestroyOnce()
    {
        if (Interlocked.Exchange(ref _destroyed, 1) != 0) return;
        try { _fs.Destroy(); } catch (Exception e) { _log($"fuse: Destroy failed: {e.Message}"); }
    }

    /// <summary>Handles the request in <paramref name="slot"/>. Returns true when an asynchronous
    /// operation now owns the slot (the caller must not reuse it).</summary>
    public bool Dispatch(RequestSlot slot)
    {
        if (slot.Transport == _deviceTransport && slot.RequestLength >= sizeof(FuseInHeader)) slot.DecodeDeviceRequest();
        if (slot.RequestLength < sizeof(FuseInHeader) || slot.Header.Length != (uint)slot.RequestLength)
        {
            _log($"fuse: dropped a malformed request of {slot.RequestLength} bytes");
            return false;
        }
        slot.Replied = false;
        Counters.Count(slot.Header.Opcode);
        try
        {
            return Route(slot);
        }
        catch (Exception e)
        {
            // The one place where a handler's exception becomes an errno (EIO) with a log line.
            LogQuietly($"fuse: {slot.Header.Opcode} failed: {e.GetType().Name}: {e.Message}");
            if (!slot.Replied && NeedsReply(slot.Header.Opcode)) ReplyError(slot, Errno.EIO);
            return false;
        }
    }

    private void LogQuietly(string message)
    {
        try { _log(message); } catch (Exception) { } // a failing log sink must not cost a reply
    }

    private const ulong RootNode = 1;

    /// <summary>GETXATTR of this name on the mount root answers with <see cref="Counters"/>
    /// (the binding's own attribute: the filesystem never sees it).</summary>
    internal static ReadOnlySpan<byte> RequestCountsXattr => "user.backupfs.fuse-requests"u8;

    /// <summary>GETXATTR of this name on the mount root answers how requests travel: "io_uring" or
    /// "/dev/fuse", then " passthrough" when staged files are passed through.</summary>
    internal static ReadOnlySpan<byte> TransportXattr => "user.backupfs.fuse-transport"u8;

    private string TransportText => (IoUringAgreed ? "io_uring" : "/dev/fuse") + (Passthrough.Enabled ? " passthrough" : "");

    private bool ReplyBindingText(RequestSlot s, string value)
    {
        var text = System.Text.Encoding.ASCII.GetBytes(value);
        if (s.RequestedSize == 0)
        {
            var o = (FuseGetXattrOut*)s.ReplyPayload;
            o->Size = (uint)text.Length;
            o->Padding = 0;
            return Reply(s, sizeof(FuseGetXattrOut));
        }
        if (text.Length > s.RequestedSize) return ReplyError(s, Errno.ERANGE);
        text.CopyTo(new Span<byte>(s.ReplyPayload, text.Length));
        return Reply(s, text.Length);
    }

    private static bool NeedsReply(FuseOpcode op) =>
        op is not (FuseOpcode.Forget or FuseOpcode.BatchForget or FuseOpcode.Interrupt);

    private RequestContext Context(RequestSlot s) => new(s.Header.Uid, s.Header.Gid, s.Header.Pid, _ending);

    private bool Route(RequestSlot s)
    {
        var ctx = Context(s);
        var node = s.Header.NodeId;
        switch (s.Header.Opcode)
        {
            case FuseOpcode.Init: return Init(s);
            case FuseOpcode.Destroy: DestroyOnce(); return Reply(s, 0);
            case FuseOpcode.Interrupt: return false; // replies to the interrupted request suffice
            case FuseOpcode.Forget:
                if (s.TryBody<FuseForgetIn>(out var forget)) _fs.Forget(node, forget->NLookup);
                return false;
            case FuseOpcode.BatchForget: return BatchForget(s);

            case FuseOpcode.Lookup:
            {
                var at = 0;
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Lookup(ctx, node, name), ReplyEntryAction);
            }
            case FuseOpcode.GetAttr:
            {
                ulong? handle = s.TryBody<FuseGetAttrIn>(out var gi) && (gi->GetAttrFlags & 1) != 0 ? gi->Fh : null;
                return Complete(s, _fs.GetAttributes(ctx, node, handle), ReplyAttrAction);
            }
            case FuseOpcode.SetAttr:
            {
                if (!s.TryBody<FuseSetAttrIn>(out var si)) return ReplyError(s, Errno.EINVAL);
                var request = new SetAttributesRequest((SetAttributeFields)si->Valid, si->Mode, si->Uid, si->Gid, si->Size,
                    new Timestamp((long)si->Atime, si->AtimeNsec), new Timestamp((long)si->Mtime, si->MtimeNsec), si->Fh);
                return Complete(s, _fs.SetAttributes(ctx, node, request), ReplyAttrAction);
            }
            case FuseOpcode.ReadLink: return Complete(s, _fs.ReadLink(ctx, node), ReplyBytesAction);
            case FuseOpcode.Open:
            {
                if (!s.TryBody<FuseOpenIn>(out var oi)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Open(ctx, node, oi->Flags), ReplyOpenAction);
            }
            case FuseOpcode.Read:
            {
                if (!s.TryBody<FuseReadIn>(out var ri)) return ReplyError(s, Errno.EINVAL);
                var size = (int)Math.Min(ri->Size, (uint)s.ReplyPayloadCapacity);
                s.RequestedSize = size;
                s.ReadSlices.Reset(s.ReplyPayloadMemory(size));
                return Complete(s, _fs.ReadInto(ctx, node, ri->Fh, (long)ri->Offset, s.ReadSlices), ReplyReadAction);
            }
            case FuseOpcode.Write:
            {
                if (!s.TryBody<FuseWriteIn>(out var wi) || s.BodyLength - sizeof(FuseWriteIn) < wi->Size) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Write(ctx, node, wi->Fh, (long)wi->Offset, s.BodyMemory(sizeof(FuseWriteIn), (int)wi->Size)), ReplyWriteAction);
            }
            case FuseOpcode.Flush:
            {
                if (!s.TryBody<FuseFlushIn>(out var fi)) return ReplyError(s, Errno.EINVAL);
                // ENOSYS once: the kernel stops sending FLUSH on this connection (two requests fewer per copied file).
                if (!_fs.WantsFlush) return ReplyError(s, Errno.ENOSYS);
                return Complete(s, _fs.Flush(ctx, node, fi->Fh), ReplyStatusAction);
            }
            case FuseOpcode.Fsync:
            {
                if (!s.TryBody<FuseFsyncIn>(out var fs)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Fsync(ctx, node, fs->Fh, (fs->FsyncFlags & 1) != 0), ReplyStatusAction);
            }
            case FuseOpcode.Release:
            {
                if (!s.TryBody<FuseReleaseIn>(out var rl)) return ReplyError(s, Errno.EINVAL);
                Passthrough.Released(node, rl->Fh);
                return Complete(s, _fs.Release(ctx, node, rl->Fh, rl->Flags), ReplyStatusAction);
            }
            case FuseOpcode.OpenDir:
            {
                if (!s.TryBody<FuseOpenIn>(out var od)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.OpenDirectory(ctx, node, od->Flags), ReplyOpenAction);
            }
            case FuseOpcode.ReadDir:
            case FuseOpcode.ReadDirPlus:
            {
                if (!s.TryBody<FuseReadIn>(out var rd)) return ReplyError(s, Errno.EINVAL);
                s.DirectoryWriter.Reset((int)Math.Min(rd->Size, int.MaxValue), s.Header.Opcode == FuseOpcode.ReadDirPlus);
                return Complete(s, _fs.ReadDirectory(ctx, node, rd->Fh, rd->Offset, s.DirectoryWriter), ReplyDirectoryAction);
            }
            case FuseOpcode.ReleaseDir:
            {
                if (!s.TryBody<FuseReleaseIn>(out var rd)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.ReleaseDirectory(ctx, node, rd->Fh), ReplyStatusAction);
            }
            case FuseOpcode.StatFs: return Complete(s, _fs.GetStatistics(ctx, node), ReplyStatFsAction);
            case FuseOpcode.GetXattr:
            {
                if (!s.TryBody<FuseGetXattrIn>(out var gx)) return ReplyError(s, Errno.EINVAL);
                var at = sizeof(FuseGetXattrIn);
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                s.RequestedSize = (int)Math.Min(gx->Size, (uint)s.ReplyPayloadCapacity);
                if (node == RootNode && name.Span.SequenceEqual(RequestCountsXattr)) return ReplyBindingText(s, Counters.Format());
                if (node == RootNode && name.Span.SequenceEqual(TransportXattr)) return ReplyBindingText(s, TransportText);
                name = s.KeepApartFromReply(name);
                return Complete(s, _fs.GetXattr(ctx, node, name, s.ReplyPayloadMemory(s.RequestedSize)), ReplyXattrAction);
            }
            case FuseOpcode.ListXattr:
            {
                if (!s.TryBody<FuseGetXattrIn>(out var lx)) return ReplyError(s, Errno.EINVAL);
                s.RequestedSize = (int)Math.Min(lx->Size, (uint)s.ReplyPayloadCapacity);
                return Complete(s, _fs.ListXattr(ctx, node, s.ReplyPayloadMemory(s.RequestedSize)), ReplyXattrAction);
            }
            case FuseOpcode.SetXattr:
            {
                if (!s.TryBody<FuseSetXattrIn>(out var sx)) return ReplyError(s, Errno.EINVAL);
                var at = sizeof(FuseSetXattrIn);
                if (!s.TryReadCString(ref at, out var name) || s.BodyLength - at < sx->Size) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.SetXattr(ctx, node, name, s.BodyMemory(at, (int)sx->Size), (XattrSetFlags)sx->Flags), ReplyStatusAction);
            }
            case FuseOpcode.RemoveXattr:
            {
                var at = 0;
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.RemoveXattr(ctx, node, name), ReplyStatusAction);
            }
            case FuseOpcode.Create:
            {
                if (!s.TryBody<FuseCreateIn>(out var ci)) return ReplyError(s, Errno.EINVAL);
                var at = sizeof(FuseCreateIn);
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Create(ctx, node, name, ci->Mode, ci->Umask, ci->Flags), ReplyCreateAction);
            }
            case FuseOpcode.MkNod:
            {
                if (!s.TryBody<FuseMkNodIn>(out var mi)) return ReplyError(s, Errno.EINVAL);
                var at = sizeof(FuseMkNodIn);
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.MakeNode(ctx, node, name, mi->Mode, mi->Umask, mi->Rdev), ReplyEntryAction);
            }
            case FuseOpcode.MkDir:
            {
                if (!s.TryBody<FuseMkDirIn>(out var md)) return ReplyError(s, Errno.EINVAL);
                var at = sizeof(FuseMkDirIn);
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.MakeDirectory(ctx, node, name, md->Mode, md->Umask), ReplyEntryAction);
            }
            case FuseOpcode.Unlink:
            case FuseOpcode.RmDir:
            {
                var at = 0;
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                var task = s.Header.Opcode == FuseOpcode.Unlink ? _fs.Unlink(ctx, node, name) : _fs.RemoveDirectory(ctx, node, name);
                return Complete(s, task, ReplyStatusAction);
            }
            case FuseOpcode.Rename:
            case FuseOpcode.Rename2:
            {
                ulong newDir; uint flags; int at;
                if (s.Header.Opcode == FuseOpcode.Rename2)
                {
                    if (!s.TryBody<FuseRename2In>(out var r2)) return ReplyError(s, Errno.EINVAL);
                    newDir = r2->NewDir; flags = r2->Flags; at = sizeof(FuseRename2In);
                }
                else
                {
                    if (!s.TryBody<FuseLinkIn>(out var r1)) return ReplyError(s, Errno.EINVAL);
                    newDir = r1->OldNodeId; flags = 0; at = sizeof(ulong);
                }
                if (!s.TryReadCString(ref at, out var oldName) || !s.TryReadCString(ref at, out var newName)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Rename(ctx, node, oldName, newDir, newName, (RenameFlags)flags), ReplyStatusAction);
            }
            case FuseOpcode.Symlink:
            {
                var at = 0;
                if (!s.TryReadCString(ref at, out var name) || !s.TryReadCString(ref at, out var target)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Symlink(ctx, node, name, target), ReplyEntryAction);
            }
            case FuseOpcode.Link:
            {
                if (!s.TryBody<FuseLinkIn>(out var li)) return ReplyError(s, Errno.EINVAL);
                var at = sizeof(FuseLinkIn);
                if (!s.TryReadCString(ref at, out var name)) return ReplyError(s, Errno.EINVAL);
                return Complete(s, _fs.Link(ctx, li->OldNodeId, node, name), ReplyEntryAction);
            }
            default:
                // ACCESS, STATX, locks, ioctl, fallocate…: ENOSYS, which the kernel remembers.
                return ReplyError(s, Errno.ENOSYS);
        }
    }

    private bool BatchForget(RequestSlot s)
    {
        if (!s.TryBody<FuseBatchForgetIn>(out var batch)) return false;
        var available = (s.BodyLength - sizeof(FuseBatchForgetIn)) / sizeof(FuseForgetOne);
        var count = (int)Math.Min(batch->Count, (uint)Math.Max(0, available));
        var items = (FuseForgetOne*)(batch + 1);
        for (var i = 0; i < count; i++)
        {
            // One failing forget must not keep the rest of the batch (lookup counts) from the filesystem.
            try { _fs.Forget(items[i].NodeId, items[i].NLookup); }
            catch (Exception e) { LogQuietly($"fuse: forget of node {items[i].NodeId} failed: {e.GetType().Name}: {e.Message}"); }
        }
        return false;
    }

    private bool Init(RequestSlot s)
    {
        // fuse_init_in was 16 bytes before 7.36; flags2 exists only with INIT_EXT.
        if (s.BodyLength < 16) return ReplyError(s, new Errno(EPROTO));
        var init = (FuseInitIn*)s.Body;
        var o = (FuseInitOut*)s.ReplyPayload;
        new Span<byte>(o, sizeof(FuseInitOut)).Clear();
        o->Major = 7;
        if (init->Major < 7) { _log($"fuse: kernel protocol {init->Major}.{init->Minor} is too old"); return ReplyError(s, new Errno(EPROTO)); }
        if (init->Major > 7) { o->Minor = FuseSessionOptions.ProtocolMinor; return Reply(s, 8); } // the kernel retries with 7.x
        if (init->Minor < 12) { _log($"fuse: kernel protocol 7.{init->Minor} is too old (need 7.12)"); return ReplyError(s, new Errno(EPROTO)); }

        var minor = Math.Min(init->Minor, FuseSessionOptions.ProtocolMinor);
        const FuseInitFlags wanted = FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.ParallelDirops
            | FuseInitFlags.MaxPages | FuseInitFlags.AutoInvalData | FuseInitFlags.AsyncDio | FuseInitFlags.CacheSymlinks
            | FuseInitFlags.DoReaddirplus | FuseInitFlags.ReaddirplusAuto;
        var flags = (uint)wanted & init->Flags;
        if (!_options.ReaddirPlus) flags &= ~(uint)(FuseInitFlags.DoReaddirplus | FuseInitFlags.ReaddirplusAuto);
        if (_fs.AppliesUmask) flags |= (uint)FuseInitFlags.DontMask & init->Flags;
        // Flags above bit 31 travel in flags2, which the kernel reads only with INIT_EXT.
        var offered2 = s.BodyLength >= sizeof(FuseInitIn) && (init->Flags & (uint)FuseInitFlags.InitExt) != 0 ? init->Flags2 : 0;
        uint flags2 = 0;
        // Passthrough and the writeback cache exclude each other per connection (the kernel drops
        // passthrough when both are set); passthrough wins when asked for and offered.
        if (_options.Passthrough && (offered2 & (uint)FuseInitFlags2.Passthrough) != 0)
        {
            flags2 |= (uint)FuseInitFlags2.Passthrough;
            // Opens that cannot pass through get FOPEN_DIRECT_IO (see FillOpen); shared mmap of them must still work.
            flags2 |= (uint)FuseInitFlags2.DirectIoAllowMmap & offered2;
        }
        else if (_options.WritebackCache) flags |= (uint)FuseInitFlags.WritebackCache & init->Flags;
        if (_options.IoUring != FuseIoUring.Off && IoUringAvailable && (offered2 & (uint)FuseInitFlags2.OverIoUring) != 0) flags2 |= (uint)FuseInitFlags2.OverIoUring;
        if (flags2 != 0) flags |= (uint)FuseInitFlags.InitExt;
        _fs.KernelKeepsWriteTimes((flags & (uint)FuseInitFlags.WritebackCache) != 0);
        var passthrough = (flags2 & (uint)FuseInitFlags2.Passthrough) != 0;
        Passthrough.Enabled = passthrough;
        _fs.KernelPassesThrough(passthrough);
        IoUringAgreed = (flags2 & (uint)FuseInitFlags2.OverIoUring) != 0;

        o->Minor = minor;
        o->MaxReadahead = init->MaxReadahead;
        o->Flags = flags;
        o->MaxBackground = (ushort)_options.MaxBackground;
        o->CongestionThreshold = (ushort)_options.CongestionThreshold;
        o->MaxWrite = (uint)_options.MaxWrite;
        o->TimeGran = 1;
        o->MaxPages = (ushort)(_options.MaxWrite / 4096);
        o->Flags2 = flags2;
        // Our backing files live on a plain local filesystem (depth 0); the FUSE mount adds one.
        o->MaxStackDepth = passthrough ? 1u : 0u;
        NegotiatedMinor = minor;

        _initialized(); // the filesystem gets its notifier before the first real request
        Reply(s, minor < 23 ? 24 : sizeof(FuseInitOut));
        InitReplied?.Invoke(IoUringAgreed);
        return false;
    }

    // ---- completion: inline when done, else from the completing thread ----

    private bool Complete<T>(RequestSlot s, ValueTask<T> task, Action<FuseDispatcher, RequestSlot, T> reply)
    {
        if (task.IsCompletedSuccessfully)
        {
            reply(this, s, task.Result);
            return false;
        }
        Interlocked.Increment(ref _pending);
        _ = PendingReply.Run(this, s, task, reply);
        return true;
    }

    /// <summary>Ends an asynchronous operation: error reply if none was written, slot back to the pool.</summary>
    internal void FinishPending(RequestSlot s, Exception? failure)
    {
        try
        {
            if (failure != null)
            {
                if (failure is not OperationCanceledException) LogQuietly($"fuse: {s.Header.Opcode} failed: {failure.GetType().Name}: {failure.Message}");
                if (!s.Replied) ReplyError(s, failure is OperationCanceledException ? Errno.EINTR : Errno.EIO);
            }
        }
        catch (Exception e) { LogQuietly($"fuse: reply to {s.Header.Opcode} failed: {e.Message}"); }
        finally
        {
            s.ReadSlices.Release(); // a read that failed before its reply holds no chunk while the slot idles
            Interlocked.Decrement(ref _pending);
            s.Transport.Recycle(s);
        }
    }
}
