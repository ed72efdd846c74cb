namespace BackupFs.FsHost.Vfs;

/// <summary>Which attributes a setattr changes (FATTR_* bits).</summary>
[Flags]
public enum SetAttributeFields : uint
{
    None = 0,
    Mode = 1,
    Uid = 2,
    Gid = 4,
    Size = 8,
    AccessTime = 16,
    ModificationTime = 32,
    /// <summary>The request came through an open file: <see cref="SetAttributesRequest.Handle"/> is valid.</summary>
    Handle = 64,
    /// <summary>Set the access time to the current time (ignore <see cref="SetAttributesRequest.AccessTime"/>).</summary>
    AccessTimeNow = 128,
    /// <summary>Set the modification time to the current time.</summary>
    ModificationTimeNow = 256,
    ChangeTime = 1024,
}

/// <summary>The changes a setattr (chmod, chown, truncate, utimens) asks for.</summary>
public readonly record struct SetAttributesRequest(
    SetAttributeFields Fields,
    uint Mode,
    uint Uid,
    uint Gid,
    ulong Size,
    Timestamp AccessTime,
    Timestamp ModificationTime,
    ulong Handle)
{
    public bool Has(SetAttributeFields field) => (Fields & field) != 0;
}
