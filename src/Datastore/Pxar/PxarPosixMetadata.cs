namespace BackupFs.Datastore.Pxar;

/// <summary>
/// The one translation between pxar entries and what stat(2) and the xattr calls show: mode,
/// owner, times and device numbers of an entry; xattrs, FCAPS and ACL items to and from
/// extended attributes (security.capability, system.posix_acl_access/_default).
/// </summary>
public static class PxarPosixMetadata
{
    public static readonly byte[] CapabilityName = "security.capability"u8.ToArray();
    public static readonly byte[] AclAccessName = "system.posix_acl_access"u8.ToArray();
    public static readonly byte[] AclDefaultName = "system.posix_acl_default"u8.ToArray();

    /// <summary>st_mode: file type and permission bits (the pxar mode holds nothing above them).</summary>
    public static uint ModeOf(PxarEntry entry) => (uint)(entry.Stat.Mode & 0xFFFF);

    /// <summary>st_size: content length for files, target length for symlinks, 0 otherwise.</summary>
    public static long SizeOf(PxarEntry entry) => entry.Kind is PxarEntryKind.File or PxarEntryKind.Symlink ? entry.Size : 0;

    /// <summary>The kernel's 32-bit device encoding (new_encode_dev), as FUSE attributes carry st_rdev.</summary>
    public static uint EncodeDevice(ulong major, ulong minor) =>
        (uint)((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffUL) << 12));

    /// <summary>The ENTRY an archive writer stores for these stat fields (no feature flags, as the PBS client writes them).</summary>
    public static PxarStat StatOf(uint mode, uint uid, uint gid, long mtimeSeconds, uint mtimeNanoseconds) =>
        new(mode & 0xFFFF, 0, uid, gid, mtimeSeconds, mtimeNanoseconds);

    /// <summary>
    /// Extended attributes as getxattr shows them: the archived xattrs in order, then
    /// security.capability from FCAPS, then the POSIX ACLs rebuilt from the ACL items
    /// (<paramref name="permissions"/>: the entry's permission bits, for the access ACL's base entries).
    /// </summary>
    public static List<(byte[] Name, byte[] Value)> ToXattrs(PxarMetadata meta, uint permissions)
    {
        var list = meta.Xattrs.Select(x => (x.Name, x.Value)).ToList();
        if (meta.Fcaps is { } caps) list.Add((CapabilityName.ToArray(), caps));
        if (!meta.Acl.IsEmpty)
        {
            if (PosixAclXattr.BuildAccess(meta.Acl, permissions & 0xFFF) is { } access) list.Add((AclAccessName.ToArray(), access));
            if (PosixAclXattr.BuildDefault(meta.Acl) is { } dflt) list.Add((AclDefaultName.ToArray(), dflt));
        }
        return list;
    }

    /// <summary>An entry's xattrs as getxattr shows them (see <see cref="ToXattrs"/>).</summary>
    public static async ValueTask<List<(byte[] Name, byte[] Value)>> ReadXattrsAsync(PxarAccessor accessor, PxarEntry entry, CancellationToken ct) =>
        ToXattrs(await accessor.ReadMetadataAsync(entry, ct).ConfigureAwait(false), entry.Stat.Permissions);

    /// <summary>
    /// The pxar metadata for extended attributes: security.capability becomes FCAPS, the ACL
    /// xattrs become ACL items (a default ACL only on a directory), other xattrs are kept when
    /// the PBS client would archive them. Symlinks carry none (PBS stores no xattrs for them).
    /// </summary>
    public static PxarMetadata FromXattrs(IEnumerable<(byte[] Name, byte[] Value)> xattrs, bool directory, bool symlink = false)
    {
        var meta = new PxarMetadata();
        if (symlink) return meta;
        foreach (var (name, value) in xattrs)
        {
            if (name.AsSpan().SequenceEqual(CapabilityName)) meta.Fcaps = value;
            else if (name.AsSpan().SequenceEqual(AclAccessName)) PosixAclXattr.ParseAccess(value, meta.Acl);
            else if (name.AsSpan().SequenceEqual(AclDefaultName)) { if (directory) PosixAclXattr.ParseDefault(value, meta.Acl); }
            else if (PxarTreeEncoder.IsArchivedXattr(name)) meta.Xattrs.Add(new PxarXattr(name, value));
        }
        return meta;
    }
}
