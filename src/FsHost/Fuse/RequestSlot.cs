using BackupFs.FsHost.Fuse.Protocol;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// One request in flight: a native request buffer (what read() on /dev/fuse returned) and a
/// native reply buffer (header + payload). A reader thread owns a slot while it reads and
/// dispatches; when an operation goes asynchronous the slot travels with it (names and write
/// data stay valid) and the reader takes another slot from the pool.
/// </summary>
internal sealed unsafe class RequestSlot : IDisposable
{
    public const int OutHeaderSize = 16;

    private readonly NativeBuffer _request;
    private readonly NativeBuffer _reply;

    public RequestSlot(int requestSize, int replyPayloadSize, FuseDispatcher dispatcher)
    {
        _request = new NativeBuffer(requestSize);
        _reply = new NativeBuffer(OutHeaderSize + replyPayloadSize);
        DirectoryWriter = new DirectoryReplyWriter(this, dispatcher);
    }

    public byte* RequestPointer => _request.Pointer;
    public int RequestCapacity => _request.Length;
    public int ReplyPayloadCapacity => _reply.Length - OutHeaderSize;

    /// <summary>Set once the reply for the current request was written.</summary>
    public bool Replied { get; set; }

    /// <summary>The payload size the request asked for (READ, GETXATTR, LISTXATTR).</summary>
    public int RequestedSize { get; set; }

    /// <summary>Bytes of the current request.</summary>
    public int RequestLength { get; set; }

    public ref FuseInHeader Header => ref *(FuseInHeader*)_request.Pointer;
    public byte* Body => _request.Pointer + sizeof(FuseInHeader);
    public int BodyLength => RequestLength - sizeof(FuseInHeader);

    public byte* ReplyPointer => _reply.Pointer;
    public byte* ReplyPayload => _reply.Pointer + OutHeaderSize;

    /// <summary>The request body bytes [offset, offset+length) as memory.</summary>
    public ReadOnlyMemory<byte> BodyMemory(int offset, int length) =>
        _request.Memory.Slice(sizeof(FuseInHeader) + offset, length);

    /// <summary>A window onto the reply payload for the filesystem to fill.</summary>
    public Memory<byte> ReplyPayloadMemory(int length) => _reply.Memory.Slice(OutHeaderSize, length);

    /// <summary>The NUL-terminated string at body offset <paramref name="offset"/>; advances past the NUL.
    /// Returns false when the body holds no terminated string there (malformed request).</summary>
    public bool TryReadCString(ref int offset, out ReadOnlyMemory<byte> value)
    {
        value = default;
        if (offset < 0 || offset >= BodyLength) return false;
        var span = new ReadOnlySpan<byte>(Body + offset, BodyLength - offset);
        var nul = span.IndexOf((byte)0);
        if (nul < 0) return false;
        value = BodyMemory(offset, nul);
        offset += nul + 1;
        return true;
    }

    /// <summary>The fixed-size struct at the start of the body, or false when the body is too short.</summary>
    public bool TryBody<T>(out T* value) where T : unmanaged
    {
        value = (T*)Body;
        return BodyLength >= sizeof(T);
    }

    /// <summary>readdir reply builder bound to this slot's reply buffer.</summary>
    public DirectoryReplyWriter DirectoryWriter { get; }

    public void Dispose()
    {
        ((IDisposable)_request).Dispose();
        ((IDisposable)_reply).Dispose();
    }
}
