using System.Buffers.Binary;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Pxar;

/// <summary>Decodes the metadata items (XATTR, ACL_*, FCAPS, QUOTA_PROJID) that follow an ENTRY.</summary>
internal static class PxarMetadataReader
{
    public static bool IsMetadataItem(ulong type) => type is PxarFormat.Xattr or PxarFormat.AclUser or PxarFormat.AclGroup
        or PxarFormat.AclGroupObj or PxarFormat.AclDefault or PxarFormat.AclDefaultUser or PxarFormat.AclDefaultGroup
        or PxarFormat.Fcaps or PxarFormat.QuotaProjectId;

    public static void Apply(PxarMetadata meta, PxarHeader h, ReadOnlySpan<byte> c, long position)
    {
        switch (h.Type)
        {
            case PxarFormat.Xattr:
            {
                int nul = c.IndexOf((byte)0);
                if (nul <= 0) throw new FormatCorruptException($"pxar: XATTR at offset {position} has no name");
                meta.Xattrs.Add(new PxarXattr(c[..nul].ToArray(), c[(nul + 1)..].ToArray()));
                break;
            }
            case PxarFormat.Fcaps: meta.Fcaps = c.ToArray(); break;
            case PxarFormat.QuotaProjectId: meta.QuotaProjectId = U64(c, 0, 8, position); break;
            case PxarFormat.AclUser: meta.Acl.Users.Add(Pair(c, position)); break;
            case PxarFormat.AclGroup: meta.Acl.Groups.Add(Pair(c, position)); break;
            case PxarFormat.AclDefaultUser: meta.Acl.DefaultUsers.Add(Pair(c, position)); break;
            case PxarFormat.AclDefaultGroup: meta.Acl.DefaultGroups.Add(Pair(c, position)); break;
            case PxarFormat.AclGroupObj: meta.Acl.GroupObj = U64(c, 0, 8, position); break;
            case PxarFormat.AclDefault:
                meta.Acl.Default = new PxarAclDefault(U64(c, 0, 32, position), U64(c, 8, 32, position), U64(c, 16, 32, position), U64(c, 24, 32, position));
                break;
        }
    }

    private static PxarAclEntry Pair(ReadOnlySpan<byte> c, long position) => new(U64(c, 0, 16, position), U64(c, 8, 16, position));

    private static ulong U64(ReadOnlySpan<byte> c, int at, int expectedLength, long position)
    {
        if (c.Length != expectedLength) throw new FormatCorruptException($"pxar: metadata item at offset {position} has the wrong size {c.Length}");
        return BinaryPrimitives.ReadUInt64LittleEndian(c[at..]);
    }
}
