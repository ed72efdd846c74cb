namespace BackupFs.Datastore.Pxar;

/// <summary>One extended attribute: raw name bytes (e.g. "user.comment") and value.</summary>
public sealed record PxarXattr(byte[] Name, byte[] Value);

/// <summary>The items between an ENTRY and its content: xattrs, ACLs, file capabilities, quota project id.</summary>
public sealed class PxarMetadata
{
    public static PxarMetadata Empty => new();
    public List<PxarXattr> Xattrs { get; } = [];
    public PxarAcl Acl { get; } = new();
    /// <summary>Raw value of the security.capability xattr, if any.</summary>
    public byte[]? Fcaps { get; set; }
    public ulong? QuotaProjectId { get; set; }
}
