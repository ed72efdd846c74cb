using System.Buffers;

namespace BackupFs.Datastore.Pxar;

/// <summary>Buffered sequential writer that tracks how many bytes went to the underlying (possibly non-seekable) stream.</summary>
internal sealed class PositionedWriter : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly Stream _stream;
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _used;

    public PositionedWriter(Stream stream) => _stream = stream;

    /// <summary>Logical position: bytes written so far, including those still buffered.</summary>
    public long Position { get; private set; }

    /// <summary>Adds to the position for bytes that the caller accounts for outside this stream (reused payload chunks).</summary>
    public void Advance(long bytes) => Position += bytes;

    /// <summary>Returns a span of <paramref name="size"/> bytes to fill (≤ 64 KiB); counted as written.</summary>
    public async ValueTask<Memory<byte>> ReserveAsync(int size, CancellationToken ct)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(PositionedWriter));
        if (size > buffer.Length) throw new ArgumentOutOfRangeException(nameof(size));
        if (_used + size > buffer.Length) await FlushBufferAsync(ct).ConfigureAwait(false);
        var span = buffer.AsMemory(_used, size);
        _used += size;
        Position += size;
        return span;
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(PositionedWriter));
        if (_used + data.Length <= buffer.Length)
        {
            data.CopyTo(buffer.AsMemory(_used));
            _used += data.Length;
        }
        else
        {
            await FlushBufferAsync(ct).ConfigureAwait(false);
            if (data.Length <= buffer.Length / 2) { data.CopyTo(buffer); _used = data.Length; }
            else await _stream.WriteAsync(data, ct).ConfigureAwait(false);
        }
        Position += data.Length;
    }

    public async ValueTask WriteItemAsync(ulong type, ReadOnlyMemory<byte> content, CancellationToken ct)
    {
        var h = await ReserveAsync(PxarFormat.HeaderSize, ct).ConfigureAwait(false);
        PxarHeader.ForContent(type, content.Length).Write(h.Span);
        await WriteAsync(content, ct).ConfigureAwait(false);
    }

    public async ValueTask FlushBufferAsync(CancellationToken ct)
    {
        if (_used > 0 && _buffer != null)
        {
            await _stream.WriteAsync(_buffer.AsMemory(0, _used), ct).ConfigureAwait(false);
            _used = 0;
        }
    }

    public async ValueTask FlushAsync(CancellationToken ct)
    {
        await FlushBufferAsync(ct).ConfigureAwait(false);
        await _stream.FlushAsync(ct).ConfigureAwait(false);
    }

    public void Dispose()
    {
        var b = _buffer;
        _buffer = null;
        if (b != null) ArrayPool<byte>.Shared.Return(b);
    }
}
