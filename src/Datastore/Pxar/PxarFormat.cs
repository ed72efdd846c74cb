namespace BackupFs.Datastore.Pxar;

/// <summary>
/// pxar item type constants and limits. Every type is SipHash-2-4 (keys <see cref="HashKey0"/>,
/// <see cref="HashKey1"/>) of the string in its comment; tests recompute each one, so do not edit by hand.
/// </summary>
public static class PxarFormat
{
    /// <summary>First 16 hex digits of SHA-1("PROXMOX ARCHIVE FORMAT").</summary>
    public const ulong HashKey0 = 0x83ac3f1cfbb450dbUL;
    /// <summary>Next 16 hex digits of SHA-1("PROXMOX ARCHIVE FORMAT").</summary>
    public const ulong HashKey1 = 0xaa4f1b6879369fbdUL;

    public const ulong FormatVersion = 0x730f6c75df16a40dUL;      // __PROXMOX_FORMAT_VERSION__
    public const ulong Entry = 0xd5956474e588acefUL;              // __PROXMOX_FORMAT_ENTRY_V2__
    public const ulong EntryV1 = 0x11da850a1c1cceffUL;            // __PROXMOX_FORMAT_ENTRY__
    public const ulong Prelude = 0xe309d79d9f7b771bUL;            // __PROXMOX_FORMAT_PRELUDE__
    public const ulong Filename = 0x16701121063917b3UL;           // __PROXMOX_FORMAT_FILENAME__
    public const ulong Symlink = 0x27f971e7dbf5dc5fUL;            // __PROXMOX_FORMAT_SYMLINK__
    public const ulong Device = 0x9fc9e906586d5ce9UL;             // __PROXMOX_FORMAT_DEVICE__
    public const ulong Xattr = 0x0dab0229b57dcd03UL;              // __PROXMOX_FORMAT_XATTR__
    public const ulong AclUser = 0x2ce8540a457d55b8UL;            // __PROXMOX_FORMAT_ACL_USER__
    public const ulong AclGroup = 0x136e3eceb04c03abUL;           // __PROXMOX_FORMAT_ACL_GROUP__
    public const ulong AclGroupObj = 0x10868031e9582876UL;        // __PROXMOX_FORMAT_ACL_GROUP_OBJ__
    public const ulong AclDefault = 0xbbbb13415a6896f5UL;         // __PROXMOX_FORMAT_ACL_DEFAULT__
    public const ulong AclDefaultUser = 0xc89357b40532cd1fUL;     // __PROXMOX_FORMAT_ACL_DEFAULT_USER__
    public const ulong AclDefaultGroup = 0xf90a8a5816038ffeUL;    // __PROXMOX_FORMAT_ACL_DEFAULT_GROUP__
    public const ulong Fcaps = 0x2da9dd9db5f7fb67UL;              // __PROXMOX_FORMAT_FCAPS__
    public const ulong QuotaProjectId = 0xe07540e82f7d1cbbUL;     // __PROXMOX_FORMAT_QUOTA_PROJID__
    public const ulong Hardlink = 0x51269c8422bd7275UL;           // __PROXMOX_FORMAT_HARDLINK__
    public const ulong Payload = 0x28147a1b0b7c1a25UL;            // __PROXMOX_FORMAT_PXAR_PAYLOAD__
    public const ulong PayloadRef = 0x419d3d6bc4ba977eUL;         // __PROXMOX_FORMAT_PXAR_PAYLOAD_REF__
    public const ulong Goodbye = 0x2fec4fa642d5731dUL;            // __PROXMOX_FORMAT_GOODBYE__
    public const ulong GoodbyeTailMarker = 0xef5eed5b753e1555UL;  // __PROXMOX_FORMAT_PXAR_GOODBYE_TAIL_MARKER__
    public const ulong PayloadStartMarker = 0x834c68c2194a4ed2UL; // __PROXMOX_FORMAT_PXAR_PAYLOAD_START_MARKER__
    public const ulong PayloadTailMarker = 0x6c72b78b984c81b5UL;  // __PROXMOX_FORMAT_PXAR_PAYLOAD_TAIL_MARKER__

    /// <summary>Every named constant with the string it hashes (for tests and diagnostics).</summary>
    public static IReadOnlyList<(string Text, ulong Value)> Named { get; } =
    [
        ("__PROXMOX_FORMAT_VERSION__", FormatVersion), ("__PROXMOX_FORMAT_ENTRY_V2__", Entry),
        ("__PROXMOX_FORMAT_ENTRY__", EntryV1), ("__PROXMOX_FORMAT_PRELUDE__", Prelude),
        ("__PROXMOX_FORMAT_FILENAME__", Filename), ("__PROXMOX_FORMAT_SYMLINK__", Symlink),
        ("__PROXMOX_FORMAT_DEVICE__", Device), ("__PROXMOX_FORMAT_XATTR__", Xattr),
        ("__PROXMOX_FORMAT_ACL_USER__", AclUser), ("__PROXMOX_FORMAT_ACL_GROUP__", AclGroup),
        ("__PROXMOX_FORMAT_ACL_GROUP_OBJ__", AclGroupObj), ("__PROXMOX_FORMAT_ACL_DEFAULT__", AclDefault),
        ("__PROXMOX_FORMAT_ACL_DEFAULT_USER__", AclDefaultUser), ("__PROXMOX_FORMAT_ACL_DEFAULT_GROUP__", AclDefaultGroup),
        ("__PROXMOX_FORMAT_FCAPS__", Fcaps), ("__PROXMOX_FORMAT_QUOTA_PROJID__", QuotaProjectId),
        ("__PROXMOX_FORMAT_HARDLINK__", Hardlink), ("__PROXMOX_FORMAT_PXAR_PAYLOAD__", Payload),
        ("__PROXMOX_FORMAT_PXAR_PAYLOAD_REF__", PayloadRef), ("__PROXMOX_FORMAT_GOODBYE__", Goodbye),
        ("__PROXMOX_FORMAT_PXAR_GOODBYE_TAIL_MARKER__", GoodbyeTailMarker),
        ("__PROXMOX_FORMAT_PXAR_PAYLOAD_START_MARKER__", PayloadStartMarker),
        ("__PROXMOX_FORMAT_PXAR_PAYLOAD_TAIL_MARKER__", PayloadTailMarker),
    ];

    public const int HeaderSize = 16;
    public const int StatSize = 40;
    public const int StatV1Size = 32;
    public const int GoodbyeItemSize = 24;
    public const int MaxFilenameLength = 4096;
    public const int MaxPathLength = 4096;
    public const int MaxXattrContent = 255 + 65536;

    /// <summary>Goodbye-table hash of a file name (raw bytes, no NUL).</summary>
    public static ulong HashFilename(ReadOnlySpan<byte> name) => SipHash24.Hash(HashKey0, HashKey1, name);

    /// <summary>Largest content size (full_size − 16) a decoder accepts for an item type; −1 = unbounded.</summary>
    public static long MaxContentSize(ulong htype) => htype switch
    {
        Filename => MaxFilenameLength + 1,
        Symlink => MaxPathLength + 1,
        Hardlink => 8 + MaxPathLength + 1,
        Device => 16,
        Xattr or Fcaps => MaxXattrContent,
        AclUser or AclGroup or AclDefaultUser or AclDefaultGroup => 16,
        AclGroupObj => 8,
        AclDefault => 32,
        QuotaProjectId => 8,
        Entry => StatSize,
        EntryV1 => StatV1Size,
        PayloadRef => 16,
        FormatVersion => 8,
        PayloadStartMarker or PayloadTailMarker => 0,
        _ => -1,
    };

    /// <summary>True for a legal pxar file name: non-empty, ≤ 4096 bytes, no '/', no NUL, not "." or "..".</summary>
    public static bool IsValidFilename(ReadOnlySpan<byte> name) =>
        name.Length is > 0 and <= MaxFilenameLength
        && name.IndexOfAny((byte)'/', (byte)0) < 0
        && !name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8);
}
