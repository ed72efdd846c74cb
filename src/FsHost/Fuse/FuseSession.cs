using System.Runtime.InteropServices;
using BackupFs.FsHost.Fuse.Interop;
using BackupFs.FsHost.Fuse.Protocol;
using BackupFs.FsHost.Fuse.Uring;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// A mounted filesystem served over /dev/fuse by dedicated reader threads.
///
/// Life cycle: <see cref="Mount"/> mounts and starts the readers; <see cref="Completion"/> ends
/// when the mount goes away (our <see cref="Unmount"/>, a signal handled through
/// <see cref="HandleTerminationSignals"/>, or an external <c>fusermount3 -u</c> / <c>umount</c>):
/// every blocked read() then returns ENODEV and the readers exit. <see cref="Dispose"/> unmounts
/// if needed and releases everything.
/// </summary>
public sealed unsafe class FuseSession : IDisposable
{
    private readonly IFileSystem _fs;
    private readonly FuseSessionOptions _options;
    private readonly FuseMounter.MountedConnection _connection;
    private readonly FuseDevice _device;
    private readonly FuseDispatcher _dispatcher;
    private readonly CancellationTokenSource _ending = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread[] _readers;
    private readonly Action<string> _log;
    private readonly IoUringQueues? _rings;
    private int _liveReaders;
    private int _unmountRequested;
    private int _disposed;

    private FuseSession(IFileSystem fs, FuseSessionOptions options, FuseMounter.MountedConnection connection)
    {
        _fs = fs;
        _options = options;
        _connection = connection;
        _log = options.Log ?? (m => Console.Error.WriteLine(m));
        _device = new FuseDevice(connection.DeviceFd);
        Notifier = new FuseKernelNotifier(_device);
        _dispatcher = new FuseDispatcher(fs, _device, options, _ending.Token, _log, OnInit);
        if (options.IoUring != FuseIoUring.Off && IoUringSupport.IsEnabled())
            _rings = IoUringQueues.TryCreate(options, connection.DeviceFd, _dispatcher, _log);
        _dispatcher.IoUringAvailable = _rings is not null;
        _dispatcher.InitReplied = OnInitReplied;
        _readers = new Thread[options.ReaderThreads];
    }

    /// <summary>
    /// Mounts <paramref name="fileSystem"/> at <paramref name="mount"/>.MountPoint and starts serving.
    /// Throws <see cref="IOException"/> when /dev/fuse, mount(2) or fusermount3 fail.
    /// </summary>
    public static FuseSession Mount(IFileSystem fileSystem, FuseMountOptions mount, FuseSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        options ??= new FuseSessionOptions();
        options.Validate();
        KernelStructSizes.Verify();
        // After SIGKILL the kernel tears io_uring down asynchronously: fusermount3's auto_unmount
        // check (open of the mount must fail with ENOTCONN) then races it and may keep a stale
        // mount. So auto_unmount mounts use /dev/fuse unless io_uring is asked for explicitly.
        if (mount.AutoUnmount && options.IoUring == FuseIoUring.Auto) options = options with { IoUring = FuseIoUring.Off };
        // fuse.enable_uring is global: switched on only when asked for explicitly.
        if (options.IoUring == FuseIoUring.On && FuseMounter.IsRoot) IoUringSupport.TryEnable(options.Log ?? (m => Console.Error.WriteLine(m)));
        var connection = FuseMounter.Mount(mount);
        var session = new FuseSession(fileSystem, options, connection);
        session.Start();
        return session;
    }

    /// <summary>The absolute mount point.</summary>
    public string MountPoint => _connection.MountPoint;

    /// <summary>Completes once INIT has been answered (the mount is usable).</summary>
    public Task Ready => _ready.Task;

    /// <summary>Completes when the session has ended (unmounted or aborted).</summary>
    public Task Completion => _completion.Task;

    /// <summary>True until the readers have exited.</summary>
    public bool IsRunning => !_completion.Task.IsCompleted;

    /// <summary>Requests served so far, per opcode (also the <c>user.backupfs.fuse-requests</c>
    /// xattr of the mount root, and logged at unmount).</summary>
    public FuseRequestCounters RequestCounters => _dispatcher.Counters;

    /// <summary>True when requests travel over io_uring queues (known once <see cref="Ready"/>).</summary>
    public bool UsesIoUring => _dispatcher.IoUringAgreed && _rings is { Started: true };

    /// <summary>True when opens with a backing file are passed through (known once <see cref="Ready"/>).</summary>
    public bool PassesThrough => _dispatcher.Passthrough.Enabled;

    /// <summary>Passthrough backing ids currently registered.</summary>
    internal int PassthroughBackingCount => _dispatcher.Passthrough.RegisteredCount;

    /// <summary>The kernel notifier also handed to <see cref="IFileSystem.Initialize"/>.</summary>
    public IKernelNotifier Notifier { get; }

    /// <summary>Blocks the calling thread until the mount is gone (foreground mode).</summary>
    public void RunUntilUnmounted() => Completion.GetAwaiter().GetResult();

    /// <summary>Lazily unmounts (idempotent). The readers see ENODEV and the session completes
    /// once nothing holds the mount open any more.</summary>
    public void Unmount()
    {
        if (!IsRunning || Interlocked.Exchange(ref _unmountRequested, 1) != 0) return;
        try { FuseMounter.Unmount(MountPoint); }
        catch (Exception e) when (e is IOException or FileNotFoundException)
        {
            _log($"fuse: {e.Message}");
            Volatile.Write(ref _unmountRequested, 0);
        }
    }

    /// <summary>SIGINT and SIGTERM unmount (the process then ends when its caller returns
    /// from <see cref="RunUntilUnmounted"/>) instead of killing the process with a stale mount.
    /// Dispose the result to stop handling the signals.</summary>
    public IDisposable HandleTerminationSignals()
    {
        void Handler(PosixSignalContext ctx) { ctx.Cancel = true; Unmount(); }
        return new SignalRegistrations(
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handler),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handler));
    }

    private sealed class SignalRegistrations(params PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose() { foreach (var r in registrations) r.Dispose(); }
    }

    private void Start()
    {
        _liveReaders = _readers.Length;
        for (var i = 0; i < _readers.Length; i++)
        {
            _readers[i] = new Thread(ReaderLoop) { IsBackground = true, Name = $"fuse-reader-{i}" };
            _readers[i].Start();
        }
    }

    private void OnInit() => _fs.Initialize(Notifier);

    private void OnInitReplied(bool ioUringAgreed)
    {
        if (ioUringAgreed) _rings?.Start();
        // Only after the reply: the kernel lowers the read-ahead window to the INIT reply's
        // max_readahead while it takes that reply, undoing a window raised before it.
        Task.Run(() =>
        {
            if (_options.ReadAheadKb is { } kb && FuseMounter.IsRoot) ReadAheadTuner.TrySet(MountPoint, kb, _log);
            _ready.TrySetResult();
        });
    }

    private void ReaderLoop()
    {
        var pool = _dispatcher.Pool;
        var slot = pool.Rent();
        try
        {
            while (true)
            {
                var n = _device.Read(slot.RequestPointer, slot.RequestCapacity);
                if (n < 0)
                {
                    var errno = -n;
                    if (errno is LibC.ENOENT or LibC.EINTR or LibC.EAGAIN) continue; // interrupted request: retry
                    if (errno != LibC.ENODEV) _log($"fuse: read from /dev/fuse failed: {LibC.Describe(errno)}");
                    break;
                }
                slot.RequestLength = n;
                bool owned;
                try { owned = _dispatcher.Dispatch(slot); }
                catch (Exception e)
                {
                    // Dispatch answers every handler failure itself; this is the last guard, so one
                    // request (or a failing log sink) never stops a reader. The slot is not reused.
                    try { _log($"fuse: request failed outside its handler: {e.GetType().Name}: {e.Message}"); } catch (Exception) { }
                    owned = true;
                }
                if (owned) slot = pool.Rent(); // the old slot belongs to a waiting operation
            }
        }
        catch (Exception e)
        {
            _log($"fuse: reader stopped: {e}");
        }
        finally
        {
            pool.Return(slot);
            if (Interlocked.Decrement(ref _liveReaders) == 0) End();
        }
    }

    private void End()
    {
        _ending.Cancel();
        _dispatcher.DestroyOnce();
        _rings?.Dispose();
        _device.Dispose(); // late asynchronous replies are dropped from now on
        try { _log($"fuse: requests served ({(UsesIoUring ? "io_uring" : "/dev/fuse")}): {_dispatcher.Counters.Format()}"); } catch (Exception) { }
        ReleaseFusermount();
        _ready.TrySetResult();
        _completion.TrySetResult();
    }

    private void ReleaseFusermount()
    {
        if (_connection.CommSocket >= 0) LibC.Close(_connection.CommSocket);
        if (_connection.Fusermount is { } p)
        {
            p.WaitForExit(2000); // it unmounts (if needed) and exits once our socket end closes
            p.Dispose();
        }
    }

    /// <summary>Unmounts if still mounted, waits (bounded) for the readers, frees buffers.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Unmount();
        if (!Completion.Wait(TimeSpan.FromSeconds(10)))
            // The readers still run and cancel the token when they end: it stays for them (the GC takes it).
            _log($"fuse: session at {MountPoint} did not end within 10 s (files still open on a lazily unmounted mount?)");
        else
        {
            _dispatcher.Pool.Dispose();
            _ending.Dispose();
        }
    }
}
