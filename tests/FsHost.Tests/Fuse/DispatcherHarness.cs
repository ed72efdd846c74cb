using System.Buffers.Binary;
using System.Text;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Fuse.Interop;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>
/// Drives the dispatcher without a kernel: requests are written into a slot, replies go to one
/// end of a SOCK_SEQPACKET pair (one message per write, like /dev/fuse) and are read back.
/// </summary>
internal sealed unsafe class DispatcherHarness : IDisposable
{
    private const int SOCK_SEQPACKET = 5, F_SETFL = 4, O_NONBLOCK = 0x800;
    private readonly int _peer;
    private readonly FuseDevice _device;
    private readonly CancellationTokenSource _ending = new();
    public FuseDispatcher Dispatcher { get; }
    public List<string> Log { get; } = new();
    public int InitCalls;

    public DispatcherHarness(IFileSystem fs, FuseSessionOptions? options = null)
    {
        var pair = stackalloc int[2];
        if (LibC.SocketPair(LibC.AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0) throw new IOException("socketpair failed");
        _device = new FuseDevice(pair[0]);
        _peer = pair[1];
        LibC.Fcntl(_peer, F_SETFL, O_NONBLOCK);
        Dispatcher = new FuseDispatcher(fs, _device, options ?? new FuseSessionOptions(), _ending.Token, m => { lock (Log) Log.Add(m); },
            () => { InitCalls++; fs.Initialize(new FuseKernelNotifier(_device)); });
    }

    /// <summary>Builds a request (header + body), dispatches it; returns true if it went asynchronous.</summary>
    public bool Send(uint opcode, ulong nodeId, ReadOnlySpan<byte> body, ulong unique = 7, RequestSlot? slot = null)
    {
        slot ??= Dispatcher.Pool.Rent();
        var length = 40 + body.Length;
        var p = slot.RequestPointer;
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(p, 4), (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(p + 4, 4), opcode);
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(p + 8, 8), unique);
        BinaryPrimitives.WriteUInt64LittleEndian(new Span<byte>(p + 16, 8), nodeId);
        new Span<byte>(p + 24, 16).Clear();
        body.CopyTo(new Span<byte>(p + 40, body.Length));
        slot.RequestLength = length;
        var pending = Dispatcher.Dispatch(slot);
        if (!pending) Dispatcher.Pool.Return(slot);
        return pending;
    }

    /// <summary>The next reply, or null when none was written.</summary>
    public byte[]? Receive()
    {
        var buffer = new byte[2 << 20];
        fixed (byte* b = buffer)
        {
            var n = LibC.Read(_peer, b, (nuint)buffer.Length);
            if (n < 0) return null;
            return buffer.AsSpan(0, (int)n).ToArray();
        }
    }

    /// <summary>Reads a reply into a caller buffer without allocating; returns its length or -1.</summary>
    public int ReceiveInto(byte* buffer, int capacity)
    {
        var n = LibC.Read(_peer, buffer, (nuint)capacity);
        return (int)n;
    }

    public static byte[] Name(string name) => Encoding.UTF8.GetBytes(name + "\0");

    public static (uint Length, int Error, ulong Unique) Header(byte[] reply) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(reply), BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4)), BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(8)));

    public void Dispose()
    {
        _device.Dispose();
        LibC.Close(_peer);
        Dispatcher.Pool.Dispose();
        _ending.Dispose();
    }
}
