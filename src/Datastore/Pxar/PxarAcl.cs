namespace BackupFs.Datastore.Pxar;

/// <summary>ACL entry for a named user or group: id and rwx permission bits (READ 4, WRITE 2, EXECUTE 1).</summary>
public readonly record struct PxarAclEntry(ulong Id, ulong Permissions);

/// <summary>Default ACL of a directory: owner, owning group, others, mask (<see cref="PxarAcl.NoMask"/> when absent).</summary>
public readonly record struct PxarAclDefault(ulong UserObj, ulong GroupObj, ulong Other, ulong Mask);

/// <summary>POSIX ACL items as pxar stores them (the base user/group/other bits live in the mode).</summary>
public sealed class PxarAcl
{
    public const ulong NoMask = ulong.MaxValue;
    public List<PxarAclEntry> Users { get; } = [];
    public List<PxarAclEntry> Groups { get; } = [];
    /// <summary>Permissions of the owning group when an access ACL has a mask (the mode then holds the mask).</summary>
    public ulong? GroupObj { get; set; }
    public PxarAclDefault? Default { get; set; }
    public List<PxarAclEntry> DefaultUsers { get; } = [];
    public List<PxarAclEntry> DefaultGroups { get; } = [];

    public bool IsEmpty => Users.Count == 0 && Groups.Count == 0 && GroupObj is null && Default is null
        && DefaultUsers.Count == 0 && DefaultGroups.Count == 0;
}
