namespace BackupFs.Datastore.Reading;

/// <summary>
/// Where one read puts its bytes: slices of decoded chunks, each holding a reference to its chunk,
/// for a caller that can send them as they are (a FUSE reply written with writev), or bytes copied
/// into a flat buffer. Sending the slices saves the copy of every byte read into a reply buffer
/// (about a twentieth of the CPU of a cold read through the mount).
///
/// Slices are kept up to a fixed count; beyond it (an index of many small chunks) the slices so far
/// are copied into the flat buffer and the rest of the read goes there too, so a hostile index
/// costs copies, never an unbounded list. With a slice count of 0 every read is flat.
/// </summary>
public sealed class ReadSlices
{
    private readonly ChunkBuffer?[] _buffers;
    private readonly int[] _starts, _lengths;
    private int _count;
    private Memory<byte> _flat;
    private bool _isFlat;

    /// <param name="maxSlices">How many chunk slices one read may hold (0: always copy).</param>
    public ReadSlices(int maxSlices)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSlices);
        _buffers = new ChunkBuffer?[maxSlices];
        _starts = new int[maxSlices];
        _lengths = new int[maxSlices];
        _isFlat = true;
    }

    /// <summary>Starts a read of at most <paramref name="flat"/>'s length; releases what the last one held.</summary>
    public void Reset(Memory<byte> flat)
    {
        Release();
        _flat = flat;
        Length = 0;
        _isFlat = _buffers.Length == 0;
    }

    /// <summary>Bytes read so far.</summary>
    public int Length { get; private set; }

    /// <summary>The most this read may take.</summary>
    public int Capacity => _flat.Length;

    /// <summary>True when the bytes are in slices (<see cref="this[int]"/>), false when they are in the flat buffer.</summary>
    public bool IsSliced => _count > 0;

    public int Count => _count;

    /// <summary>The bytes of slice <paramref name="index"/>.</summary>
    public ReadOnlyMemory<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
            return _buffers[index]!.Memory.Slice(_starts[index], _lengths[index]);
        }
    }

    /// <summary>
    /// Appends <paramref name="length"/> bytes of <paramref name="held"/> from <paramref name="start"/>,
    /// taking over the caller's reference to it (released here if the bytes are copied, or on failure).
    /// </summary>
    public void Add(ChunkBuffer held, int start, int length)
    {
        try
        {
            if (start < 0 || length < 0 || start > held.Length - length || length > Capacity - Length)
                throw new ArgumentOutOfRangeException(nameof(length), "slice outside the chunk or past the read's size");
            if (!_isFlat && _count < _buffers.Length)
            {
                _buffers[_count] = held;
                _starts[_count] = start;
                _lengths[_count] = length;
                _count++;
                Length += length;
                return;
            }
            held.Span.Slice(start, length).CopyTo(FlatRemaining().Span);
            Length += length;
        }
        catch
        {
            held.Release();
            throw;
        }
        held.Release();
    }

    /// <summary>The unfilled rest of the flat buffer, after copying any slices into it; call <see cref="Advance"/> with what was written.</summary>
    public Memory<byte> FlatRemaining()
    {
        if (!_isFlat)
        {
            int at = 0;
            for (int i = 0; i < _count; i++)
            {
                this[i].Span.CopyTo(_flat.Span[at..]);
                at += _lengths[i];
            }
            Release();
            _isFlat = true;
        }
        return _flat[Length..];
    }

    /// <summary>Counts <paramref name="written"/> bytes put into <see cref="FlatRemaining"/>.</summary>
    public void Advance(int written)
    {
        if (!_isFlat || written < 0 || written > Capacity - Length) throw new ArgumentOutOfRangeException(nameof(written));
        Length += written;
    }

    /// <summary>Drops the chunk references; the flat bytes stay until the next <see cref="Reset"/>.</summary>
    public void Release()
    {
        for (int i = 0; i < _count; i++)
        {
            var buffer = _buffers[i]!;
            _buffers[i] = null;
            buffer.Release();
        }
        _count = 0;
    }
}
