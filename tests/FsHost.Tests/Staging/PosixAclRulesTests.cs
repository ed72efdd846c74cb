using System.Buffers.Binary;
using BackupFs.FsHost.Staging;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>The ACL rules on binary values, with the results fs/posix_acl.c gives.</summary>
public class PosixAclRulesTests
{
    private const ushort UserObj = 1, User = 2, GroupObj = 4, Group = 8, Mask = 0x10, Other = 0x20;

    private static byte[] Acl(params (ushort Tag, ushort Perm, uint Id)[] entries)
    {
        var b = new byte[4 + 8 * entries.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 2);
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4 + 8 * i), entries[i].Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6 + 8 * i), entries[i].Perm);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8 + 8 * i), entries[i].Id);
        }
        return b;
    }

    private const uint None = uint.MaxValue;

    [Fact]
    public void ValidityMinimalityAndTheModeAnAclImplies()
    {
        var minimal = Acl((UserObj, 6, None), (GroupObj, 4, None), (Other, 0, None));
        var extended = Acl((UserObj, 6, None), (User, 7, 1234), (GroupObj, 4, None), (Mask, 6, None), (Other, 4, None));
        Assert.True(PosixAclRules.IsValid(minimal, out var empty) && !empty);
        Assert.True(PosixAclRules.IsMinimal(minimal));
        Assert.Equal(0x1A0u, PosixAclRules.PermissionsOf(minimal));            // 0640
        Assert.True(PosixAclRules.IsValid(extended, out _));
        Assert.False(PosixAclRules.IsMinimal(extended));
        Assert.Equal(0x1B4u, PosixAclRules.PermissionsOf(extended));           // 0664: group bits = mask
        Assert.True(PosixAclRules.IsValid(Acl(), out empty) && empty);         // no entries: remove
        Assert.False(PosixAclRules.IsValid(Acl((UserObj, 6, None), (User, 7, 1), (GroupObj, 4, None), (Other, 0, None)), out _)); // named without mask
        Assert.False(PosixAclRules.IsValid(Acl((GroupObj, 4, None), (UserObj, 6, None), (Other, 0, None)), out _));               // out of order
        Assert.False(PosixAclRules.IsValid(Acl((UserObj, 6, None), (User, 7, 5), (User, 7, 5), (GroupObj, 4, None), (Mask, 7, None), (Other, 0, None)), out _));
        Assert.False(PosixAclRules.IsValid([1, 2, 3], out _));
    }

    [Fact]
    public void ChmodRewritesOwnerMaskAndOther()
    {
        var extended = Acl((UserObj, 7, None), (User, 7, 1234), (GroupObj, 5, None), (Mask, 7, None), (Other, 5, None));
        var after = PosixAclRules.Chmod(extended, 0x1A0); // 0640
        Assert.Equal(Acl((UserObj, 6, None), (User, 7, 1234), (GroupObj, 5, None), (Mask, 4, None), (Other, 0, None)), after);
    }

    [Fact]
    public void NewEntriesInheritTheDefaultAclMaskedByTheCreateMode()
    {
        var dflt = Acl((UserObj, 7, None), (User, 7, 1234), (GroupObj, 5, None), (Mask, 7, None), (Other, 0, None));
        var (mode, access, inherited) = PosixAclRules.Inherit(dflt, 0x81B6 /* file 0666 */, directory: false);
        Assert.Equal(0x81B0u, mode); // 0660: owner rw, mask rw, other none
        Assert.Equal(Acl((UserObj, 6, None), (User, 7, 1234), (GroupObj, 5, None), (Mask, 6, None), (Other, 0, None)), access);
        Assert.Null(inherited);
        (mode, access, inherited) = PosixAclRules.Inherit(dflt, 0x41FF /* dir 0777 */, directory: true);
        Assert.Equal(0x41F8u, mode); // 0770
        Assert.Equal(dflt, inherited);
        // A minimal default ACL gives the masked mode and no access ACL.
        (mode, access, _) = PosixAclRules.Inherit(Acl((UserObj, 7, None), (GroupObj, 5, None), (Other, 5, None)), 0x81B6, directory: false);
        Assert.Equal(0x81A4u, mode); // 0644
        Assert.Null(access);
    }
}
