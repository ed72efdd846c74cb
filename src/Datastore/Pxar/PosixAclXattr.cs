using System.Buffers.Binary;

namespace BackupFs.Datastore.Pxar;

/// <summary>
/// Converts between the kernel's binary POSIX ACL xattrs (system.posix_acl_access / _default:
/// u32 version 2, then 8-byte entries tag u16, perm u16, id u32) and pxar ACL items, without libacl.
/// </summary>
public static class PosixAclXattr
{
    public const string AccessName = "system.posix_acl_access";
    public const string DefaultName = "system.posix_acl_default";
    private const uint Version = 2;
    private const ushort UserObj = 0x01, User = 0x02, GroupObj = 0x04, Group = 0x08, Mask = 0x10, Other = 0x20;
    private const uint UndefinedId = uint.MaxValue;

    /// <summary>Adds the named users/groups of an access ACL to <paramref name="acl"/>; returns false for a malformed value.</summary>
    public static bool ParseAccess(ReadOnlySpan<byte> value, PxarAcl acl)
    {
        if (!TryEntries(value, out var entries)) return false;
        ulong? groupObj = null;
        bool hasMask = false;
        foreach (var (tag, perm, id) in entries)
        {
            switch (tag)
            {
                case User: acl.Users.Add(new PxarAclEntry(id, perm)); break;
                case Group: acl.Groups.Add(new PxarAclEntry(id, perm)); break;
                case GroupObj: groupObj = perm; break;
                case Mask: hasMask = true; break;
            }
        }
        // With a mask the mode's group bits hold the mask, so the real group permissions need their own item.
        if (hasMask) acl.GroupObj = groupObj;
        acl.Users.Sort(Compare);
        acl.Groups.Sort(Compare);
        return true;
    }

    /// <summary>Fills the default-ACL items of <paramref name="acl"/>; returns false for a malformed value.</summary>
    public static bool ParseDefault(ReadOnlySpan<byte> value, PxarAcl acl)
    {
        if (!TryEntries(value, out var entries)) return false;
        ulong userObj = 0, groupObj = 0, other = 0, mask = PxarAcl.NoMask;
        foreach (var (tag, perm, id) in entries)
        {
            switch (tag)
            {
                case UserObj: userObj = perm; break;
                case GroupObj: groupObj = perm; break;
                case Other: other = perm; break;
                case Mask: mask = perm; break;
                case User: acl.DefaultUsers.Add(new PxarAclEntry(id, perm)); break;
                case Group: acl.DefaultGroups.Add(new PxarAclEntry(id, perm)); break;
            }
        }
        acl.Default = new PxarAclDefault(userObj, groupObj, other, mask);
        acl.DefaultUsers.Sort(Compare);
        acl.DefaultGroups.Sort(Compare);
        return true;
    }

    /// <summary>The access ACL xattr value for these items and mode, or null when the mode alone says it all.</summary>
    public static byte[]? BuildAccess(PxarAcl acl, uint mode)
    {
        if (acl.Users.Count == 0 && acl.Groups.Count == 0 && acl.GroupObj is null) return null;
        var list = new List<(ushort, ulong, uint)> { (UserObj, (mode >> 6) & 7, UndefinedId) };
        foreach (var u in acl.Users) list.Add((User, u.Permissions, (uint)u.Id));
        list.Add((GroupObj, acl.GroupObj ?? ((mode >> 3) & 7), UndefinedId));
        foreach (var g in acl.Groups) list.Add((Group, g.Permissions, (uint)g.Id));
        list.Add((Mask, (mode >> 3) & 7, UndefinedId));
        list.Add((Other, mode & 7, UndefinedId));
        return Encode(list);
    }

    /// <summary>The default ACL xattr value, or null when the entry has none.</summary>
    public static byte[]? BuildDefault(PxarAcl acl)
    {
        if (acl.Default is not { } d) return null;
        var list = new List<(ushort, ulong, uint)> { (UserObj, d.UserObj, UndefinedId) };
        foreach (var u in acl.DefaultUsers) list.Add((User, u.Permissions, (uint)u.Id));
        list.Add((GroupObj, d.GroupObj, UndefinedId));
        foreach (var g in acl.DefaultGroups) list.Add((Group, g.Permissions, (uint)g.Id));
        if (d.Mask != PxarAcl.NoMask) list.Add((Mask, d.Mask, UndefinedId));
        else if (acl.DefaultUsers.Count > 0 || acl.DefaultGroups.Count > 0) list.Add((Mask, d.GroupObj, UndefinedId));
        list.Add((Other, d.Other, UndefinedId));
        return Encode(list);
    }

    private static int Compare(PxarAclEntry a, PxarAclEntry b) => a.Id != b.Id ? a.Id.CompareTo(b.Id) : a.Permissions.CompareTo(b.Permissions);

    private static byte[] Encode(List<(ushort Tag, ulong Perm, uint Id)> entries)
    {
        var b = new byte[4 + 8 * entries.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(b, Version);
        for (int i = 0; i < entries.Count; i++)
        {
            var s = b.AsSpan(4 + 8 * i);
            BinaryPrimitives.WriteUInt16LittleEndian(s, entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(s[2..], (ushort)(entries[i].Perm & 7));
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], entries[i].Id);
        }
        return b;
    }

    private static bool TryEntries(ReadOnlySpan<byte> value, out List<(ushort Tag, ulong Perm, uint Id)> entries)
    {
        entries = [];
        if (value.Length < 4 || (value.Length - 4) % 8 != 0 || BinaryPrimitives.ReadUInt32LittleEndian(value) != Version) return false;
        for (int at = 4; at < value.Length; at += 8)
            entries.Add((BinaryPrimitives.ReadUInt16LittleEndian(value[at..]), BinaryPrimitives.ReadUInt16LittleEndian(value[(at + 2)..]),
                BinaryPrimitives.ReadUInt32LittleEndian(value[(at + 4)..])));
        return true;
    }
}
