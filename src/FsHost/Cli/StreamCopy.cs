using System.Buffers;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Cli;

/// <summary>Copies a range of a random-access source to a stream in 1 MiB pieces.</summary>
public static class StreamCopy
{
    public static async Task CopyAsync(IRandomAccessSource source, long offset, long length, Stream output, CancellationToken ct, Action<long>? progress = null)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long end = offset + length;
            while (offset < end)
            {
                int want = (int)Math.Min(buffer.Length, end - offset);
                int n = await source.ReadAtAsync(offset, buffer.AsMemory(0, want), ct);
                if (n == 0) throw new Datastore.Formats.FormatCorruptException("archive ended before its stated size");
                await output.WriteAsync(buffer.AsMemory(0, n), ct);
                offset += n;
                progress?.Invoke(n);
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }
}
