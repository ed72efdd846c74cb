using System.Buffers;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Writing;

/// <summary>
/// Write-only stream that cuts what is written into chunks (the cut rule is the subclass's),
/// hands them to the chunk ingest, and on completion yields the ordered chunk list.
/// </summary>
public abstract class ArchiveWriterBase : Stream
{
    private readonly ChunkIngest _ingest;
    private readonly List<(long End, Task<Digest> Digest)> _chunks = new();
    private readonly CancellationToken _ct;
    private byte[] _buffer;
    private int _filled;
    private long _written;
    private bool _completed;

    public string Name { get; }

    protected ArchiveWriterBase(string name, ChunkIngest ingest, int bufferSize, CancellationToken ct)
    {
        Name = name;
        _ingest = ingest;
        _ct = ct;
        _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
    }

    /// <summary>Where the cut chunks go.</summary>
    protected ChunkIngest Ingest => _ingest;

    /// <summary>Bytes of the current (not yet cut) chunk.</summary>
    protected ReadOnlySpan<byte> Pending => _buffer.AsSpan(0, _filled);
    protected int PendingLength => _filled;

    /// <summary>How many of the next bytes belong to the current chunk before a cut (≤ data.Length); cut when it returns n and wantsCut.</summary>
    protected abstract int NextCut(ReadOnlySpan<byte> data, out bool cut);

    public override void Write(ReadOnlySpan<byte> data)
    {
        if (_completed) throw new ObjectDisposedException(Name, "the archive is already complete");
        while (data.Length > 0)
        {
            int n = NextCut(data, out bool cut);
            EnsureCapacity(_filled + n);
            data[..n].CopyTo(_buffer.AsSpan(_filled));
            _filled += n;
            _written += n;
            data = data[n..];
            if (cut) CutChunk();
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) { Write(buffer.AsSpan(offset, count)); return Task.CompletedTask; }
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) { Write(buffer.Span); return ValueTask.CompletedTask; }

    /// <summary>Forces a chunk boundary at the current position (no-op when nothing is pending).</summary>
    protected void CutChunk()
    {
        if (_filled == 0) return;
        var full = _buffer;
        int length = _filled;
        _buffer = ArrayPool<byte>.Shared.Rent(full.Length);
        _filled = 0;
        // Bounded by the ingest's in-flight limit: blocking here is the back-pressure.
        var task = _ingest.SubmitAsync(full, length, _ct).GetAwaiter().GetResult();
        _chunks.Add((_written, task));
    }

    /// <summary>
    /// Cuts the pending chunk, then appends chunks the store already holds (digest and size known,
    /// e.g. from a previous snapshot's index) without reading, hashing or uploading them.
    /// Returns the stream offset where the first appended chunk starts.
    /// </summary>
    protected long AppendKnownChunks(IEnumerable<(Digest Digest, long Size)> chunks)
    {
        if (_completed) throw new ObjectDisposedException(Name, "the archive is already complete");
        CutChunk();
        long start = _written;
        foreach (var (digest, size) in chunks)
        {
            if (size <= 0) throw new ArgumentOutOfRangeException(nameof(chunks), "a reused chunk must not be empty");
            _written += size;
            _chunks.Add((_written, _ingest.RegisterKnownAsync(digest, size, _ct)));
        }
        return start;
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= _buffer.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _filled).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    /// <summary>Cuts the last chunk and waits for every chunk to be stored.</summary>
    protected async Task<IReadOnlyList<DynamicIndexEntry>> CompleteChunksAsync()
    {
        if (!_completed)
        {
            CutChunk();
            _completed = true;
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
        _ingest.FlushTouches();
        var entries = new DynamicIndexEntry[_chunks.Count];
        for (int i = 0; i < entries.Length; i++)
            entries[i] = new DynamicIndexEntry(_chunks[i].End, await _chunks[i].Digest.ConfigureAwait(false));
        return entries;
    }

    public long BytesWritten => _written;
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_completed;
    public override long Length => _written;
    public override long Position { get => _written; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
