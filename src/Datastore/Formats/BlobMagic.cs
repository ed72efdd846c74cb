namespace BackupFs.Datastore.Formats;

/// <summary>
/// The 8-byte magic numbers of PBS files. Each is the first 8 bytes of SHA-256 of a phrase
/// (named beside it), so they must never be edited by hand; a test recomputes them.
/// </summary>
public static class BlobMagic
{
    /// <summary>SHA-256("Proxmox Backup uncompressed blob v1.0")[0..8]</summary>
    public static ReadOnlySpan<byte> Uncompressed => [0x42, 0xab, 0x38, 0x07, 0xbe, 0x83, 0x70, 0xa1];
    /// <summary>SHA-256("Proxmox Backup zstd compressed blob v1.0")[0..8]</summary>
    public static ReadOnlySpan<byte> Compressed => [0x31, 0xb9, 0x58, 0x42, 0x6f, 0xb6, 0xa3, 0x7f];
    /// <summary>SHA-256("Proxmox Backup encrypted blob v1.0")[0..8]</summary>
    public static ReadOnlySpan<byte> Encrypted => [0x7b, 0x67, 0x85, 0xbe, 0x22, 0x2d, 0x4c, 0xf0];
    /// <summary>SHA-256("Proxmox Backup zstd compressed encrypted blob v1.0")[0..8]</summary>
    public static ReadOnlySpan<byte> EncryptedCompressed => [0xe6, 0x59, 0x1b, 0xbf, 0x0b, 0xbf, 0xd8, 0x0b];
    /// <summary>SHA-256("Proxmox Backup fixed sized chunk index v1.0")[0..8]</summary>
    public static ReadOnlySpan<byte> FixedIndex => [0x2f, 0x7f, 0x41, 0xed, 0x91, 0xfd, 0x0f, 0xcd];
    /// <summary>SHA-256("Proxmox Backup dynamic sized chunk index v1.0")[0..8]</summary>
    public static ReadOnlySpan<byte> DynamicIndex => [0x1c, 0x91, 0x4e, 0xa5, 0x19, 0xba, 0xb3, 0xcd];
    /// <summary>SHA-256("Proxmox Backup Catalog file v1.0")[0..8]</summary>
    public static ReadOnlySpan<byte> Catalog => [0x91, 0xfd, 0x60, 0xf9, 0xc4, 0x67, 0x58, 0xd5];
}
