namespace BackupFs.Datastore.Layout;

/// <summary>How an archive of a snapshot is read.</summary>
public enum ArchiveKind
{
    /// <summary>A pxar directory tree: one .pxar.didx (v1) or a .mpxar.didx + .ppxar.didx pair (v2).</summary>
    Pxar,
    /// <summary>A fixed-chunk image (.img.fidx).</summary>
    Image,
    /// <summary>Any other dynamic index read as one byte stream (a catalog, one half of a split pair).</summary>
    Stream,
    /// <summary>A single blob (.conf.blob, .log.blob, …).</summary>
    Blob,
}

/// <summary>
/// One archive of a snapshot as a user names it (root.pxar, drive-scsi0.img, qemu-server.conf) with
/// the server files behind it.
/// </summary>
/// <param name="IndexFile">the file to read: the index (for a split pxar archive its metadata half) or the blob</param>
/// <param name="PayloadFile">the payload half of a split pxar archive, else null</param>
public sealed record SnapshotArchive(ArchiveKind Kind, string IndexFile, string? PayloadFile = null);
