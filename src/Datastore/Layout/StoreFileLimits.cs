namespace BackupFs.Datastore.Layout;

/// <summary>
/// Largest files BackupFs reads from a datastore, checked (with the file type) before anything is read,
/// so a hostile store cannot make it read without end or allocate without bound.
/// </summary>
public static class StoreFileLimits
{
    /// <summary>
    /// A chunk file, a snapshot's .blob file or its manifest (index.json.blob): PBS's upload limit,
    /// 16 MiB of data plus the 44-byte header of an encrypted blob (api2/backup/upload_chunk.rs).
    /// </summary>
    public const long Blob = 16 * 1024 * 1024 + 44;

    /// <summary>
    /// A .fidx or .didx file. PBS sets no limit; 1 GiB holds the index of a 32 TiB image in 4 MiB
    /// chunks (32 bytes each) or 25 million dynamic chunks (40 bytes each).
    /// </summary>
    public const long Index = 1L << 30;

    /// <summary>Small text files: a group's owner and notes.</summary>
    public const long Small = 64 * 1024;
}
