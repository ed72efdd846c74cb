using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Vfs;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>The session tree's rules, driven through the session API without a kernel: every refusal is an errno result.</summary>
public class SessionTreeTests : IDisposable
{
    private readonly SessionFixture _f = new();
    public void Dispose() => _f.Dispose();

    private static CancellationToken None => CancellationToken.None;

    [Fact]
    public void NamesAreCheckedAndTakenNamesRefused()
    {
        var s = _f.Open();
        Mkdir(s, s.Root, "d");
        Assert.Equal(Errno.EEXIST, Run(s.MakeDirectoryAsync(s.Root, N("d"), 0x1ED, 0, 0, 0, None)).Error);
        Assert.Equal(Errno.EINVAL, Run(s.CreateFileAsync(s.Root, N("a/b"), 0x1A4, 0, 0, 0, None)).Error);
        Assert.Equal(Errno.EINVAL, Run(s.CreateFileAsync(s.Root, N(".."), 0x1A4, 0, 0, 0, None)).Error);
        Assert.Equal(Errno.ENAMETOOLONG, Run(s.CreateFileAsync(s.Root, new byte[256].Select(_ => (byte)'x').ToArray(), 0x1A4, 0, 0, 0, None)).Error);
        Assert.Equal(Errno.ENOENT, Run(s.SymlinkAsync(s.Root, N("l"), [], 0, 0, None)).Error);
        Assert.Equal(Errno.EINVAL, Run(s.MakeSpecialAsync(s.Root, N("r"), FileModes.Regular | 0x1A4, 0, 0, 0, 0, 0, None)).Error);
        Assert.Equal(Errno.ENOENT, Run(s.LookupAsync(s.Root, N("missing"), None)).Error);
        var f = WriteFile(s, s.Root, "f", "x"u8.ToArray());
        Assert.Equal(Errno.ENOTDIR, Run(s.LookupAsync(f, N("x"), None)).Error);
        Assert.Equal(Errno.ENOTDIR, Run(s.CreateFileAsync(f, N("x"), 0x1A4, 0, 0, 0, None)).Error);
    }

    [Fact]
    public void UnlinkAndRmdirFollowTheTypeAndEmptinessRules()
    {
        var s = _f.Open();
        var d = Mkdir(s, s.Root, "d");
        WriteFile(s, d, "f", "x"u8.ToArray());
        Assert.Equal(Errno.ENOTEMPTY, Run(s.UnlinkAsync(s.Root, N("d"), true, None)));
        Assert.Equal(Errno.EISDIR, Run(s.UnlinkAsync(s.Root, N("d"), false, None)));
        Assert.Equal(Errno.ENOTDIR, Run(s.UnlinkAsync(d, N("f"), true, None)));
        Assert.Equal(Errno.ENOENT, Run(s.UnlinkAsync(d, N("nope"), false, None)));
        Assert.Equal(Errno.Ok, Run(s.UnlinkAsync(d, N("f"), false, None)));
        Assert.Equal(Errno.Ok, Run(s.UnlinkAsync(s.Root, N("d"), true, None)));
        Assert.Empty(Run(s.ListAsync(s.Root, None)).Value);
        Assert.Equal(2u, s.Root.LinkCount);
    }

    [Fact]
    public void RenameReplacesExchangesAndRefusesWhatRenameRefuses()
    {
        var s = _f.Open();
        var a = Mkdir(s, s.Root, "a");
        var b = Mkdir(s, s.Root, "b");
        WriteFile(s, b, "inside", "1"u8.ToArray());
        var f = WriteFile(s, s.Root, "f", "f"u8.ToArray());
        var g = WriteFile(s, s.Root, "g", "g"u8.ToArray());
        Assert.Equal(Errno.EINVAL, Run(s.RenameAsync(s.Root, N("a"), a, N("self"), 0, None)));          // into itself
        Assert.Equal(Errno.ENOTEMPTY, Run(s.RenameAsync(s.Root, N("a"), s.Root, N("b"), 0, None)));     // over a non-empty dir
        Assert.Equal(Errno.EISDIR, Run(s.RenameAsync(s.Root, N("f"), s.Root, N("a"), 0, None)));
        Assert.Equal(Errno.ENOTDIR, Run(s.RenameAsync(s.Root, N("a"), s.Root, N("f"), 0, None)));
        Assert.Equal(Errno.EEXIST, Run(s.RenameAsync(s.Root, N("f"), s.Root, N("g"), RenameFlags.NoReplace, None)));
        Assert.Equal(Errno.ENOENT, Run(s.RenameAsync(s.Root, N("f"), s.Root, N("h"), RenameFlags.Exchange, None)));
        Assert.Equal(Errno.EINVAL, Run(s.RenameAsync(s.Root, N("f"), s.Root, N("g"), RenameFlags.NoReplace | RenameFlags.Exchange, None)));

        Assert.Equal(Errno.Ok, Run(s.RenameAsync(s.Root, N("f"), s.Root, N("g"), 0, None)));            // replaces g
        Assert.Same(f, Lookup(s, s.Root, "g"));
        Assert.Equal(0u, g.LinkCount);
        Assert.Null(g.SpoolPath); // the replaced file's content went
        Assert.Equal(Errno.Ok, Run(s.RenameAsync(s.Root, N("a"), s.Root, N("b"), RenameFlags.Exchange, None)));
        Assert.Same(a, Lookup(s, s.Root, "b"));
        Assert.Same(b, Lookup(s, s.Root, "a"));
        Assert.Equal("1"u8.ToArray(), Read(s, Lookup(s, Lookup(s, s.Root, "a"), "inside")));
    }

    [Fact]
    public void AnotherSessionsInodeIsACrossDeviceChange()
    {
        var s = _f.Open();
        using var other = new SessionFixture();
        var t = other.Open();
        var foreign = Mkdir(t, t.Root, "x");
        Assert.Equal(Errno.EXDEV, Run(s.LinkAsync(foreign, s.Root, N("y"), None)).Error);
        Assert.Equal(Errno.EXDEV, Run(s.RenameAsync(s.Root, N("a"), foreign, N("b"), 0, None)));
        Assert.Equal(Errno.EXDEV, Run(s.MakeDirectoryAsync(foreign, N("z"), 0x1ED, 0, 0, 0, None)).Error);
    }

    [Fact]
    public void HardlinksShareOneInodeAndCountTheirNames()
    {
        var s = _f.Open();
        var d = Mkdir(s, s.Root, "d");
        Assert.Equal(Errno.EPERM, Run(s.LinkAsync(d, s.Root, N("dl"), None)).Error);
        var f = WriteFile(s, s.Root, "f", "data"u8.ToArray());
        Assert.Same(f, Ok(Run(s.LinkAsync(f, d, N("g"), None))));
        Assert.Equal(2u, f.LinkCount);
        Assert.Equal(3u, s.Root.LinkCount); // ., .. and d's ..
        Assert.Equal(Errno.Ok, Run(s.UnlinkAsync(s.Root, N("f"), false, None)));
        Assert.Equal(1u, f.LinkCount);
        Assert.Equal("data"u8.ToArray(), Read(s, Lookup(s, d, "g")));
    }

    [Fact]
    public void HardlinksOfTheBaseAreCountedBeforeTheirDirectoriesAreListed()
    {
        var src = _f.Temp("src");
        Directory.CreateDirectory(Path.Combine(src, "one"));
        Directory.CreateDirectory(Path.Combine(src, "two"));
        File.WriteAllText(Path.Combine(src, "one", "f"), "shared");
        File.CreateSymbolicLink(Path.Combine(src, "ln"), "one/f");
        BackupFs.Datastore.Platform.Posix.Link(N(Path.Combine(src, "one", "f")), N(Path.Combine(src, "two", "g")));
        _f.CommitLocal(src);
        var s = _f.Open();
        var f = Lookup(s, Lookup(s, s.Root, "one"), "f");
        Assert.Equal(2u, f.LinkCount); // the other name is in an unlisted directory
        Assert.Same(f, Lookup(s, Lookup(s, s.Root, "two"), "g"));
        Assert.Equal(2u, f.LinkCount);
    }

    [Fact]
    public void TruncateAndSetattrChangeSizeModeAndTimes()
    {
        var s = _f.Open();
        var f = WriteFile(s, s.Root, "f", "0123456789"u8.ToArray());
        var r = Run(s.SetAttributesAsync(f, new SetAttributesRequest { Fields = SetAttributeFields.Size, Size = 4 }, None));
        Assert.True(r.IsOk);
        Assert.Equal(4ul, r.Value.Size);
        Assert.Equal("0123"u8.ToArray(), Read(s, f));
        r = Run(s.SetAttributesAsync(f, new SetAttributesRequest { Fields = SetAttributeFields.Mode | SetAttributeFields.ModificationTime, Mode = 0x1C0, ModificationTime = new Timestamp(1000, 5) }, None));
        Assert.Equal(FileModes.Regular | 0x1C0, r.Value.Mode);
        Assert.Equal(new Timestamp(1000, 5), r.Value.ModificationTime);
        var d = Mkdir(s, s.Root, "d");
        Assert.Equal(Errno.EISDIR, Run(s.SetAttributesAsync(d, new SetAttributesRequest { Fields = SetAttributeFields.Size, Size = 0 }, None)).Error);
        Assert.Equal(Errno.EISDIR, Run(s.OpenAsync(d, 0, None)).Error);
    }

    [Fact]
    public void XattrAndAclRules()
    {
        var s = _f.Open();
        var f = WriteFile(s, s.Root, "f", "x"u8.ToArray());
        Assert.Equal(Errno.Ok, Run(s.SetXattrAsync(f, N("user.a"), N("1"), XattrSetFlags.Create, None)));
        Assert.Equal(Errno.EEXIST, Run(s.SetXattrAsync(f, N("user.a"), N("2"), XattrSetFlags.Create, None)));
        Assert.Equal(Errno.ENODATA, Run(s.SetXattrAsync(f, N("user.b"), N("2"), XattrSetFlags.Replace, None)));
        Assert.Equal(Errno.ERANGE, Run(s.SetXattrAsync(f, [], N("2"), 0, None)));
        Assert.Equal(Errno.ENODATA, Run(s.RemoveXattrAsync(f, N("user.b"), None)));
        Assert.Equal(Errno.Ok, Run(s.RemoveXattrAsync(f, N("user.a"), None)));
        Assert.Equal(Errno.Ok, Run(s.RemoveAclAsync(f, PosixAclRules.AccessName, None))); // not there: no error

        // An access ACL that says more than the mode is kept, and sets the group bits from its mask.
        byte[] acl = Acl((1, 0xFFFFFFFF, 6), (2, 1234, 7), (4, 0xFFFFFFFF, 4), (0x10, 0xFFFFFFFF, 5), (0x20, 0xFFFFFFFF, 0));
        Assert.Equal(Errno.Ok, Run(s.SetAclAsync(f, PosixAclRules.AccessName, acl, false, true, None)));
        Assert.Equal(FileModes.Regular | 0x1A8 /* 0650: group bits from the mask */, f.Mode);
        Assert.Contains(Run(s.GetXattrsAsync(f, None)), x => PosixAclRules.IsAccess(x.Name));
        // A default ACL on a file is refused as a local filesystem refuses it.
        var ctx = new RequestContext(0, 0, 0, None);
        Assert.Equal(Errno.EACCES, PosixAclRules.CheckSettable(f, PosixAclRules.DefaultName, acl, ctx, out _));
    }

    /// <summary>A system.posix_acl_* value: version 2, then (tag, perm, id) entries.</summary>
    private static byte[] Acl(params (ushort Tag, uint Id, ushort Perm)[] entries)
    {
        var b = new byte[4 + 8 * entries.Length];
        b[0] = 2;
        for (int i = 0; i < entries.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4 + 8 * i), entries[i].Tag);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(6 + 8 * i), entries[i].Perm);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8 + 8 * i), entries[i].Id);
        }
        return b;
    }
}
