namespace BackupFs.Datastore.Pxar;

/// <summary>Read-only seekable stream over one regular file in a pxar archive.</summary>
internal sealed class PxarFileStream : Stream
{
    private readonly PxarAccessor _accessor;
    private readonly PxarEntry _file;
    private long _position;

    public PxarFileStream(PxarAccessor accessor, PxarEntry file)
    {
        if (file.Kind != PxarEntryKind.File) throw new ArgumentException($"{file} is not a regular file", nameof(file));
        _accessor = accessor;
        _file = file;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _file.Size;
    public override long Position { get => _position; set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value)); }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _accessor.ReadFileAsync(_file, _position, buffer, cancellationToken).ConfigureAwait(false);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _file.Size + offset,
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
