using System.Buffers.Binary;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// The POSIX ACL rules a local Linux filesystem applies (fs/posix_acl.c), on the kernel's binary
/// xattr values (u32 version 2, then 8-byte entries: tag u16, perm u16, id u32): validation,
/// the mode an access ACL implies, whether it is minimal (then only the mode is kept), chmod
/// rewriting the ACL, and what a new entry inherits from its directory's default ACL.
/// </summary>
public static class PosixAclRules
{
    public static readonly byte[] AccessName = "system.posix_acl_access"u8.ToArray();
    public static readonly byte[] DefaultName = "system.posix_acl_default"u8.ToArray();
    private const uint Version = 2;
    private const ushort UserObj = 0x01, User = 0x02, GroupObj = 0x04, Group = 0x08, Mask = 0x10, Other = 0x20;
    private const uint UndefinedId = uint.MaxValue;

    public static bool IsAccess(ReadOnlySpan<byte> name) => name.SequenceEqual(AccessName);
    public static bool IsDefault(ReadOnlySpan<byte> name) => name.SequenceEqual(DefaultName);

    private record struct Entry(ushort Tag, ushort Perm, uint Id);

    /// <summary>
    /// Checks a value as posix_acl_valid does (one owner, owning group and other entry, named
    /// entries unique and in order, a mask whenever there are named entries). An empty value or a
    /// header without entries means "no ACL" (returns true with <paramref name="empty"/>).
    /// </summary>
    public static bool IsValid(ReadOnlySpan<byte> value, out bool empty)
    {
        empty = false;
        if (!TryParse(value, out var entries)) return false;
        if (entries.Count == 0) { empty = true; return true; }
        int userObj = 0, groupObj = 0, other = 0, mask = 0, named = 0;
        ushort lastTag = 0;
        long lastId = -1;
        foreach (var e in entries)
        {
            if ((e.Perm & ~7) != 0 || e.Tag < lastTag) return false;
            if (e.Tag != lastTag) lastId = -1;
            switch (e.Tag)
            {
                case UserObj: userObj++; break;
                case GroupObj: groupObj++; break;
                case Other: other++; break;
                case Mask: mask++; break;
                case User or Group:
                    if (e.Id == UndefinedId || e.Id <= lastId) return false;
                    lastId = e.Id;
                    named++;
                    break;
                default: return false;
            }
            lastTag = e.Tag;
        }
        return userObj == 1 && groupObj == 1 && other == 1 && mask <= 1 && (named == 0 || mask == 1);
    }

    /// <summary>True when the ACL says no more than the mode (only owner, owning group and other entries).</summary>
    public static bool IsMinimal(ReadOnlySpan<byte> value) =>
        TryParse(value, out var entries) && entries.TrueForAll(e => e.Tag is UserObj or GroupObj or Other);

    /// <summary>The permission bits an access ACL implies: group bits from the mask entry when there is one, else from the owning group.</summary>
    public static uint PermissionsOf(ReadOnlySpan<byte> value)
    {
        TryParse(value, out var entries);
        uint user = 0, group = 0, other = 0;
        uint? mask = null;
        foreach (var e in entries)
        {
            switch (e.Tag)
            {
                case UserObj: user = e.Perm; break;
                case GroupObj: group = e.Perm; break;
                case Mask: mask = e.Perm; break;
                case Other: other = e.Perm; break;
            }
        }
        return (user << 6) | ((mask ?? group) << 3) | other;
    }

    /// <summary>chmod of an entry with an access ACL (posix_acl_chmod): owner and other follow the
    /// mode, and the mask (the owning group when there is no mask) takes the group bits.</summary>
    public static byte[] Chmod(ReadOnlySpan<byte> value, uint mode)
    {
        TryParse(value, out var entries);
        bool hasMask = entries.Exists(e => e.Tag == Mask);
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            entries[i] = e.Tag switch
            {
                UserObj => e with { Perm = (ushort)((mode >> 6) & 7) },
                Mask => e with { Perm = (ushort)((mode >> 3) & 7) },
                GroupObj when !hasMask => e with { Perm = (ushort)((mode >> 3) & 7) },
                Other => e with { Perm = (ushort)(mode & 7) },
                _ => e,
            };
        }
        return Encode(entries);
    }

    /// <summary>
    /// What a new entry in a directory with <paramref name="defaultAcl"/> gets (posix_acl_create):
    /// its permission bits are the create mode masked by the default ACL, its access ACL is the
    /// default ACL masked by the create mode (null when that is minimal), and a new directory
    /// inherits the default ACL itself. The umask does not apply.
    /// </summary>
    public static (uint Mode, byte[]? Access, byte[]? Default) Inherit(ReadOnlySpan<byte> defaultAcl, uint mode, bool directory)
    {
        TryParse(defaultAcl, out var entries);
        uint perms = mode & 0x1FF;
        bool extended = false;
        int groupObj = -1, mask = -1;
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            switch (e.Tag)
            {
                case UserObj:
                    e.Perm &= (ushort)((perms >> 6) & 7);
                    perms = (perms & ~0x1C0u) | ((uint)e.Perm << 6);
                    break;
                case Other:
                    e.Perm &= (ushort)(perms & 7);
                    perms = (perms & ~7u) | e.Perm;
                    break;
                case GroupObj: groupObj = i; break;
                case Mask: mask = i; extended = true; break;
                default: extended = true; break;
            }
            entries[i] = e;
        }
        int groupBits = mask >= 0 ? mask : groupObj;
        if (groupBits >= 0)
        {
            var g = entries[groupBits];
            g.Perm &= (ushort)((perms >> 3) & 7);
            perms = (perms & ~0x38u) | ((uint)g.Perm << 3);
            entries[groupBits] = g;
        }
        return ((mode & ~0x1FFu) | perms, extended ? Encode(entries) : null, directory ? defaultAcl.ToArray() : null);
    }

    /// <summary>The errno a local filesystem gives for setting this ACL xattr on this inode (Ok: it may be set).</summary>
    public static Errno CheckSettable(StagedInode inode, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, RequestContext ctx, out bool empty)
    {
        empty = false;
        if (inode.FileType == FileModes.Symlink) return Errno.ENOTSUP;
        if (!IsValid(value, out empty)) return Errno.EINVAL;
        if (IsDefault(name) && !inode.IsDirectory && !empty) return Errno.EACCES;
        if (ctx.Uid != 0 && ctx.Uid != inode.Uid) return Errno.EPERM;
        return Errno.Ok;
    }

    private static bool TryParse(ReadOnlySpan<byte> value, out List<Entry> entries)
    {
        entries = [];
        if (value.Length == 0) return true;
        if (value.Length < 4 || (value.Length - 4) % 8 != 0 || BinaryPrimitives.ReadUInt32LittleEndian(value) != Version) return false;
        for (int at = 4; at < value.Length; at += 8)
            entries.Add(new Entry(BinaryPrimitives.ReadUInt16LittleEndian(value[at..]), BinaryPrimitives.ReadUInt16LittleEndian(value[(at + 2)..]),
                BinaryPrimitives.ReadUInt32LittleEndian(value[(at + 4)..])));
        return true;
    }

    private static byte[] Encode(List<Entry> entries)
    {
        var b = new byte[4 + 8 * entries.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(b, Version);
        for (int i = 0; i < entries.Count; i++)
        {
            var s = b.AsSpan(4 + 8 * i);
            BinaryPrimitives.WriteUInt16LittleEndian(s, entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(s[2..], entries[i].Perm);
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], entries[i].Tag is User or Group ? entries[i].Id : UndefinedId);
        }
        return b;
    }
}
