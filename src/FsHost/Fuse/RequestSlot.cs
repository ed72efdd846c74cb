using System.Buffers;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Fuse.Protocol;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// One request in flight and the room for its reply, whichever transport brought it.
///
/// A request is a header, the opcode's fixed argument (fuse_write_in, fuse_open_in…) and a
/// payload (names, write data). Over /dev/fuse they arrive back to back in one buffer and the
/// payload part is empty here (the fixed segment runs to the end); over io_uring the kernel puts
/// them in three places (a 288-byte header area and a payload buffer). Body offsets count across
/// both segments, so the dispatcher decodes both alike. A reply is an out header plus a payload
/// built in <see cref="ReplyPayload"/>; the slot's <see cref="IRequestTransport"/> sends it.
///
/// A reader owns a slot while it dispatches; when an operation goes asynchronous the slot travels
/// with it (names and write data stay valid) until the reply is sent.
/// </summary>
internal sealed unsafe class RequestSlot : IDisposable
{
    public const int OutHeaderSize = 16;

    private readonly NativeBuffer _request;
    private readonly NativeBuffer _reply;
    private readonly NativeBuffer? _payload;
    private readonly NativeBuffer? _scratch;
    private FuseInHeader _header;
    private byte* _fixed;
    private int _fixedLength;
    private int _payloadLength;

    /// <summary>A /dev/fuse slot: read() fills <see cref="RequestPointer"/>, the reply goes out of its own buffer.</summary>
    public RequestSlot(int requestSize, int replyPayloadSize, FuseDispatcher dispatcher, IRequestTransport transport)
    {
        _request = new NativeBuffer(requestSize);
        _reply = new NativeBuffer(OutHeaderSize + replyPayloadSize);
        Transport = transport;
        ReplyPointer = _reply.Pointer;
        ReplyPayload = _reply.Pointer + OutHeaderSize;
        ReplyPayloadCapacity = replyPayloadSize;
        DirectoryWriter = new DirectoryReplyWriter(this, dispatcher);
        ReadSlices = new ReadSlices(MaxReplySlices);
        SlicePins = new MemoryHandle[MaxReplySlices];
    }

    /// <summary>An io_uring slot: <paramref name="headers"/> is the ring entry's header area
    /// (in/out header, op_in, ring_ent_in_out), <paramref name="payload"/> its payload buffer,
    /// which carries request payload in and reply payload out.</summary>
    public RequestSlot(NativeBuffer headers, NativeBuffer payload, FuseDispatcher dispatcher, IRequestTransport transport)
    {
        _request = headers;
        _reply = headers;
        _payload = payload;
        _scratch = new NativeBuffer(4096);
        Transport = transport;
        ReplyPointer = headers.Pointer;
        ReplyPayload = payload.Pointer;
        ReplyPayloadCapacity = payload.Length;
        DirectoryWriter = new DirectoryReplyWriter(this, dispatcher);
        ReadSlices = new ReadSlices(0); // the ring's payload buffer is where a reply must be
        SlicePins = [];
    }

    /// <summary>Chunk slices one READ reply may be gathered from (a 1 MiB read spans one or two
    /// chunks of a usual index; more than this are copied).</summary>
    public const int MaxReplySlices = 16;

    /// <summary>The current READ's data: chunk slices (device slots) or the reply payload.</summary>
    public ReadSlices ReadSlices { get; }

    /// <summary>Room to pin the slices while their reply is written.</summary>
    public MemoryHandle[] SlicePins { get; }

    public IRequestTransport Transport { get; }

    /// <summary>Where read() on /dev/fuse puts a request (device slots).</summary>
    public byte* RequestPointer => _request.Pointer;
    public int RequestCapacity => _request.Length;

    /// <summary>Set once the reply for the current request was written.</summary>
    public bool Replied { get; set; }

    /// <summary>The payload size the request asked for (READ, GETXATTR, LISTXATTR).</summary>
    public int RequestedSize { get; set; }

    /// <summary>Bytes of the current request (header included).</summary>
    public int RequestLength { get; set; }

    /// <summary>The ring entry this slot belongs to (ring slots).</summary>
    public int RingEntry { get; init; }

    /// <summary>The io_uring commit id of the current request (ring slots).</summary>
    public ulong CommitId { get; set; }

    /// <summary>A copy of the request header: over io_uring the reply header overwrites the original.</summary>
    public ref FuseInHeader Header => ref _header;

    /// <summary>Reads the header of a request read() put into <see cref="RequestPointer"/>.</summary>
    public void DecodeDeviceRequest()
    {
        _header = *(FuseInHeader*)_request.Pointer;
        _fixed = _request.Pointer + sizeof(FuseInHeader);
        _fixedLength = RequestLength - sizeof(FuseInHeader);
        _payloadLength = 0;
    }

    /// <summary>Takes a request the kernel put into the ring entry: header at <paramref name="inHeader"/>,
    /// fixed argument at <paramref name="opIn"/>, <paramref name="payloadLength"/> bytes of payload.
    /// False when the lengths do not add up.</summary>
    public bool DecodeRingRequest(byte* inHeader, byte* opIn, int opInCapacity, int payloadLength)
    {
        _header = *(FuseInHeader*)inHeader;
        var fixedLength = (long)_header.Length - sizeof(FuseInHeader) - payloadLength;
        if (fixedLength < 0 || fixedLength > opInCapacity || payloadLength < 0 || payloadLength > ReplyPayloadCapacity) return false;
        _fixed = opIn;
        _fixedLength = (int)fixedLength;
        _payloadLength = payloadLength;
        RequestLength = (int)_header.Length;
        return true;
    }

    public byte* Body => _fixed;
    public int BodyLength => _fixedLength + _payloadLength;

    public byte* ReplyPointer { get; }
    public byte* ReplyPayload { get; }
    public int ReplyPayloadCapacity { get; }

    /// <summary>The request body bytes [offset, offset+length) as memory; within one segment.</summary>
    public ReadOnlyMemory<byte> BodyMemory(int offset, int length)
    {
        if (offset < _fixedLength || _payload is null) return _request.Memory.Slice((int)(_fixed - _request.Pointer) + offset, length);
        return _payload!.Memory.Slice(offset - _fixedLength, length);
    }

    private ReadOnlySpan<byte> Segment(int offset) => offset < _fixedLength || _payload is null
        ? new ReadOnlySpan<byte>(_fixed + offset, _fixedLength - offset)
        : new ReadOnlySpan<byte>(_payload!.Pointer + (offset - _fixedLength), _payloadLength - (offset - _fixedLength));

    /// <summary>A window onto the reply payload for the filesystem to fill.</summary>
    public Memory<byte> ReplyPayloadMemory(int length) => _payload is { } p ? p.Memory[..length] : _reply.Memory.Slice(OutHeaderSize, length);

    /// <summary>
    /// <paramref name="name"/> where the reply cannot overwrite it: over io_uring request and reply
    /// payload share a buffer, so a name read while the reply is written (GETXATTR) is copied first.
    /// </summary>
    public ReadOnlyMemory<byte> KeepApartFromReply(ReadOnlyMemory<byte> name)
    {
        if (_scratch is null || name.Length > _scratch.Length) return name;
        name.Span.CopyTo(_scratch.GetSpan());
        return _scratch.Memory[..name.Length];
    }

    /// <summary>The NUL-terminated string at body offset <paramref name="offset"/>; advances past the NUL.
    /// Returns false when the body holds no terminated string there (malformed request).</summary>
    public bool TryReadCString(ref int offset, out ReadOnlyMemory<byte> value)
    {
        value = default;
        if (offset < 0 || offset >= BodyLength) return false;
        var span = Segment(offset);
        var nul = span.IndexOf((byte)0);
        if (nul < 0) return false;
        value = BodyMemory(offset, nul);
        offset += nul + 1;
        return true;
    }

    /// <summary>The fixed-size struct at the start of the body, or false when the body is too short.</summary>
    public bool TryBody<T>(out T* value) where T : unmanaged
    {
        value = (T*)_fixed;
        return _fixedLength >= sizeof(T);
    }

    /// <summary>readdir reply builder bound to this slot's reply buffer.</summary>
    public DirectoryReplyWriter DirectoryWriter { get; }

    public void Dispose()
    {
        ReadSlices.Release();
        ((IDisposable)_request).Dispose();
        if (!ReferenceEquals(_reply, _request)) ((IDisposable)_reply).Dispose();
        if (_payload is not null) ((IDisposable)_payload).Dispose();
        if (_scratch is not null) ((IDisposable)_scratch).Dispose();
    }
}
