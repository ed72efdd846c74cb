namespace BackupFs.Datastore.Pxar;

/// <summary>Options of <see cref="PxarEncoder"/>.</summary>
public sealed class PxarEncoderOptions
{
    /// <summary>Payload stream of a split (v2) archive; null writes a unified v1 archive.</summary>
    public Stream? PayloadOutput { get; init; }
    /// <summary>PRELUDE bytes written after FORMAT_VERSION (v2 only).</summary>
    public byte[]? Prelude { get; init; }
    /// <summary>
    /// Called with the stream offset of each file's PAYLOAD header just before it is written (the payload
    /// stream in v2, the archive stream in v1); everything before that offset has reached the stream.
    /// Lets a chunker start a chunk where a file starts.
    /// </summary>
    public Action<long>? BeforeFilePayload { get; init; }
    /// <summary>
    /// Receives every entry as it is encoded, in archive order, as PBS's client feeds its catalog
    /// (files with size and mtime seconds; a hardlink's second name as a hardlink). The caller
    /// opens the archive's own catalog directory before and closes it after the encoder.
    /// </summary>
    public Catalog.CatalogWriter? Catalog { get; init; }
}
