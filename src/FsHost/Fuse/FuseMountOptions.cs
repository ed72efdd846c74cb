namespace BackupFs.FsHost.Fuse;

/// <summary>How and where to mount.</summary>
public sealed record FuseMountOptions(string MountPoint)
{
    /// <summary>The source shown in /proc/mounts and df.</summary>
    public string FsName { get; init; } = "backupfs";

    /// <summary>The type suffix: the mount shows as fuse.&lt;subtype&gt;.</summary>
    public string Subtype { get; init; } = "backupfs";

    /// <summary>Let other users access the mount (non-root needs user_allow_other in /etc/fuse.conf).</summary>
    public bool AllowOther { get; init; }

    /// <summary>Mount through fusermount3 with auto_unmount: if this process dies, even by SIGKILL,
    /// fusermount3 unmounts lazily, so no stale mount remains.</summary>
    public bool AutoUnmount { get; init; }

    /// <summary>Let the kernel check permissions from the mode bits (recommended).</summary>
    public bool DefaultPermissions { get; init; } = true;

    /// <summary>Mount read-only (MS_RDONLY / ro).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Lazily unmount a stale FUSE mount (ENOTCONN) at the mount point before mounting.</summary>
    public bool ClearStaleMount { get; init; }

    /// <summary>Force the fusermount3 path even as root (it is used anyway when not root or with AutoUnmount).</summary>
    public bool ForceFusermount { get; init; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(MountPoint)) throw new ArgumentException("a mount point is required");
        foreach (var (name, value) in new[] { ("FsName", FsName), ("Subtype", Subtype) })
            if (string.IsNullOrEmpty(value) || value.IndexOfAny([',', '\\', ' ', '\t', '\n', '\0']) >= 0)
                throw new ArgumentException($"{name} must be non-empty without commas, backslashes or blanks: '{value}'");
    }
}
