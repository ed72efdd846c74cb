using ZstdSharp;

namespace BackupFs.Datastore.Formats.Zstd;

/// <summary>zstd through ZstdSharp, the C# port: works everywhere .NET does, about a third of libzstd's speed at level 1.</summary>
internal sealed class ManagedZstd : ZstdEngine
{
    [ThreadStatic] private static Compressor? t_compressor;
    [ThreadStatic] private static Decompressor? t_decompressor;

    public override string Name => "ZstdSharp";

    public override bool TryCompress(ReadOnlySpan<byte> data, Span<byte> destination, out int written) =>
        (t_compressor ??= new Compressor(Level)).TryWrap(data, destination, out written);

    public override int DecompressInto(ReadOnlySpan<byte> frame, Span<byte> destination)
    {
        try { return (t_decompressor ??= new Decompressor()).Unwrap(frame, destination); }
        catch (Exception e) when (e is ZstdException or InvalidOperationException or ArgumentException)
        {
            throw new FormatCorruptException($"bad zstd frame: {e.Message}", e);
        }
    }
}
