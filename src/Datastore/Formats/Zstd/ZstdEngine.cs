namespace BackupFs.Datastore.Formats.Zstd;

/// <summary>
/// One-shot zstd level 1 compression and decompression of DataBlob payloads. Two engines give the
/// same frames' meaning (any zstd frame decodes with either): the system's libzstd when it loads,
/// ZstdSharp (a C# port) otherwise. Staging and backups compress every byte they store and a
/// cold read decompresses every chunk, so this is on the hot path of both.
/// </summary>
public abstract class ZstdEngine
{
    /// <summary>PBS writes chunks and blobs at level 1.</summary>
    public const int Level = 1;

    public static ZstdEngine Managed { get; } = new ManagedZstd();

    /// <summary>libzstd, or null when this host has none that loads.</summary>
    public static ZstdEngine? Native { get; } = NativeZstd.TryLoad();

    /// <summary>
    /// The engine DataBlob uses: libzstd unless it cannot be loaded or <c>BACKUPFS_ZSTD=managed</c>
    /// asks for the port (to compare the two, or to rule the native one out). Declared after the
    /// two it chooses from: static initialisers run in text order.
    /// </summary>
    public static ZstdEngine Default { get; } = Choose(Environment.GetEnvironmentVariable("BACKUPFS_ZSTD"));

    public abstract string Name { get; }

    /// <summary>
    /// Compresses <paramref name="data"/> at <see cref="Level"/> into <paramref name="destination"/>;
    /// false when the frame does not fit (the caller then stores the data plain).
    /// </summary>
    public abstract bool TryCompress(ReadOnlySpan<byte> data, Span<byte> destination, out int written);

    /// <summary>Decompresses every frame of <paramref name="frame"/> into <paramref name="destination"/>; returns the bytes written.</summary>
    /// <exception cref="FormatCorruptException">not a valid zstd frame, or it decodes to more than the destination holds</exception>
    public abstract int DecompressInto(ReadOnlySpan<byte> frame, Span<byte> destination);

    private static ZstdEngine Choose(string? setting) =>
        string.Equals(setting, "managed", StringComparison.OrdinalIgnoreCase) ? Managed : Native ?? Managed;
}
