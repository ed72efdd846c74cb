using System.Buffers;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Pxar;

/// <summary>
/// Small read-ahead window over a random-access source: pxar headers and names are tiny, so one
/// pooled 4 KiB read usually covers a FILENAME, its ENTRY and the next items. Not thread-safe; one per operation.
/// </summary>
internal sealed class SourceWindow : IDisposable
{
    private const int DefaultWindowSize = 4096;
    private readonly IRandomAccessSource _source;
    private byte[]? _buffer;
    private long _start = -1;
    private int _length;

    /// <param name="windowSize">bytes fetched per miss: 4 KiB for random lookups, more for a sequential scan.</param>
    public SourceWindow(IRandomAccessSource source, int windowSize = DefaultWindowSize)
    {
        _source = source;
        _buffer = ArrayPool<byte>.Shared.Rent(windowSize);
    }

    public long Length => _source.Length;

    /// <summary>Returns exactly <paramref name="count"/> bytes at <paramref name="position"/>; valid until the next call.</summary>
    public ValueTask<ReadOnlyMemory<byte>> GetAsync(long position, int count, CancellationToken ct)
    {
        // Most calls are answered from the window: no async state machine for them.
        if (TryGetBuffered(position, count, out var hit)) return new ValueTask<ReadOnlyMemory<byte>>(hit);
        return FetchAsync(position, count, ct);
    }

    public ValueTask<PxarHeader> HeaderAsync(long position, CancellationToken ct)
    {
        if (TryGetBuffered(position, PxarFormat.HeaderSize, out var hit)) return new ValueTask<PxarHeader>(CheckedHeader(hit.Span, position));
        return FetchHeaderAsync(position, ct);
    }

    private bool TryGetBuffered(long position, int count, out ReadOnlyMemory<byte> bytes)
    {
        if (_buffer is { } buffer && _start >= 0 && position >= _start && count >= 0 && position + count <= _start + _length)
        {
            bytes = buffer.AsMemory((int)(position - _start), count);
            return true;
        }
        bytes = default;
        return false;
    }

    private async ValueTask<ReadOnlyMemory<byte>> FetchAsync(long position, int count, CancellationToken ct)
    {
        if (position < 0 || count < 0 || position > _source.Length - count)
            throw new FormatCorruptException($"pxar: archive truncated or offset out of range (need {count} bytes at {position}, length {_source.Length})");
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(SourceWindow));
        if (count > buffer.Length)
        {
            var big = new byte[count];
            await ReadExactlyAsync(position, big, ct).ConfigureAwait(false);
            return big;
        }
        int want = (int)Math.Min(buffer.Length, _source.Length - position);
        await ReadExactlyAsync(position, buffer.AsMemory(0, want), ct).ConfigureAwait(false);
        _start = position;
        _length = want;
        return buffer.AsMemory(0, count);
    }

    private async ValueTask<PxarHeader> FetchHeaderAsync(long position, CancellationToken ct)
    {
        var bytes = await FetchAsync(position, PxarFormat.HeaderSize, ct).ConfigureAwait(false);
        return CheckedHeader(bytes.Span, position);
    }

    private PxarHeader CheckedHeader(ReadOnlySpan<byte> bytes, long position)
    {
        var header = PxarHeader.Read(bytes, position);
        if (header.ContentSize > _source.Length - position - PxarFormat.HeaderSize)
            throw new FormatCorruptException($"pxar: item at offset {position} (size {header.FullSize}) runs past the end of the archive ({_source.Length})");
        return header;
    }

    private async ValueTask ReadExactlyAsync(long position, Memory<byte> destination, CancellationToken ct)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = await _source.ReadAtAsync(position + done, destination[done..], ct).ConfigureAwait(false);
            if (n <= 0) throw new FormatCorruptException($"pxar: archive truncated at offset {position + done}");
            done += n;
        }
    }

    public void Dispose()
    {
        var b = _buffer;
        _buffer = null;
        if (b != null) ArrayPool<byte>.Shared.Return(b);
    }
}
