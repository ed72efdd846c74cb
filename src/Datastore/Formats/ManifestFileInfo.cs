namespace BackupFs.Datastore.Formats;

/// <summary>
/// One file of a snapshot as the manifest lists it. For an index, <paramref name="Size"/> is the
/// size of the data it describes and <paramref name="Csum"/> its index_csum; for a blob, the blob
/// file's length and the SHA-256 of the whole blob file.
/// </summary>
public sealed record ManifestFileInfo(string Filename, CryptMode CryptMode, ulong Size, byte[] Csum)
{
    public string CsumHex => Convert.ToHexStringLower(Csum);
}
