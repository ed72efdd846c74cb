using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Tests.Pxar;

/// <summary>IRandomAccessSource over a byte array; counts reads so tests can check nothing decodes the whole archive.</summary>
internal sealed class MemorySource(byte[] data) : IRandomAccessSource
{
    public long Length => data.Length;
    public long BytesRead { get; private set; }

    public static MemorySource FromFile(string path) => new(File.ReadAllBytes(path));

    public ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        if (offset >= data.Length) return ValueTask.FromResult(0);
        int n = (int)Math.Min(buffer.Length, data.Length - offset);
        data.AsSpan((int)offset, n).CopyTo(buffer.Span);
        BytesRead += n;
        return ValueTask.FromResult(n);
    }
}
