using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tests.Nodes;

/// <summary>The node host on its own, no kernel: ids and lookup counts, handles, dispatch by capability.</summary>
public sealed class NodeHostTests
{
    private static readonly RequestContext Ctx = new(0, 0, 0, CancellationToken.None);
    private static ReadOnlyMemory<byte> Name(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Lookups_count_until_forget_drops_the_node()
    {
        var file = new BareNode(50);
        var host = new NodeHost(new ListedDir(1, ("f", file)));

        var first = await host.Lookup(Ctx, NodeHost.RootId, Name("f"));
        var second = await host.Lookup(Ctx, NodeHost.RootId, Name("f"));
        Assert.True(first.IsOk);
        Assert.Equal(first.Value.NodeId, second.Value.NodeId);
        Assert.NotEqual(NodeHost.RootId, first.Value.NodeId);
        Assert.Equal(50ul, first.Value.Attributes.Inode);
        Assert.Equal(TimeSpan.FromSeconds(7), first.Value.EntryTimeout);
        Assert.Equal(2, host.NodeCount);

        host.Forget(first.Value.NodeId, 1);
        Assert.Same(file, host.NodeOf(first.Value.NodeId));
        Assert.Equal(0, file.ForgottenCalls);
        host.Forget(first.Value.NodeId, 1);
        Assert.Null(host.NodeOf(first.Value.NodeId));
        Assert.Equal(1, file.ForgottenCalls);
        Assert.Equal(Errno.ENOENT, (await host.GetAttributes(Ctx, first.Value.NodeId, null)).Error);

        // Known again: a fresh id, never the old one.
        var third = await host.Lookup(Ctx, NodeHost.RootId, Name("f"));
        Assert.NotEqual(first.Value.NodeId, third.Value.NodeId);
        Assert.Same(file, host.NodeOf(third.Value.NodeId));
    }

    [Fact]
    public async Task The_root_is_never_forgotten()
    {
        var root = new ListedDir(1);
        var host = new NodeHost(root);
        host.Forget(NodeHost.RootId, 100);
        Assert.Same(root, host.NodeOf(NodeHost.RootId));
        Assert.True((await host.GetAttributes(Ctx, NodeHost.RootId, null)).IsOk);
    }

    [Fact]
    public async Task Misses_are_negative_entries_or_ENOENT_as_the_directory_says()
    {
        var cached = new NodeHost(new ListedDir(1));
        var miss = await cached.Lookup(Ctx, NodeHost.RootId, Name("nope"));
        Assert.True(miss.IsOk);
        Assert.Equal(0ul, miss.Value.NodeId);
        Assert.Equal(TimeSpan.FromSeconds(3), miss.Value.EntryTimeout);

        var uncached = new NodeHost(new ListedDir(1) { MissTimeout = TimeSpan.Zero });
        Assert.Equal(Errno.ENOENT, (await uncached.Lookup(Ctx, NodeHost.RootId, Name("nope"))).Error);
    }

    [Fact]
    public async Task Open_files_are_objects_in_a_handle_table()
    {
        var file = new ContentFile(60, "hello"u8.ToArray());
        var host = new NodeHost(new ListedDir(1, ("f", file)));
        var id = (await host.Lookup(Ctx, NodeHost.RootId, Name("f"))).Value.NodeId;

        var a = await host.Open(Ctx, id, 0);
        var b = await host.Open(Ctx, id, 0);
        Assert.True(a.IsOk && b.IsOk);
        Assert.NotEqual(a.Value.Handle, b.Value.Handle);
        Assert.Equal(OpenOptions.KeepCache, a.Value.Options);
        Assert.Equal(2, host.OpenHandleCount);

        var buffer = new byte[16];
        var read = await host.Read(Ctx, id, a.Value.Handle, 1, buffer);
        Assert.Equal(4, read.Value);
        Assert.Equal("ello"u8.ToArray(), buffer[..4]);

        Assert.Equal(Errno.Ok, await host.Release(Ctx, id, a.Value.Handle, 0));
        Assert.Equal(1, file.Releases);
        Assert.Equal(Errno.EBADF, (await host.Read(Ctx, id, a.Value.Handle, 0, buffer)).Error);
        Assert.Equal(Errno.Ok, await host.Release(Ctx, id, a.Value.Handle, 0)); // a second release is harmless
        Assert.Equal(1, file.Releases);
        Assert.Equal(1, host.OpenHandleCount);

        // A directory handle is not a file handle, and the other way round.
        var dir = await host.OpenDirectory(Ctx, NodeHost.RootId, 0);
        Assert.Equal(Errno.ENOSYS, (await host.Read(Ctx, NodeHost.RootId, dir.Value.Handle, 0, buffer)).Error);
        Assert.Equal(Errno.EBADF, await host.ReadDirectory(Ctx, id, b.Value.Handle, 0, new CollectingWriter(false, 10)));
        await host.ReleaseDirectory(Ctx, NodeHost.RootId, dir.Value.Handle);
        Assert.Equal(Errno.EBADF, await host.ReadDirectory(Ctx, NodeHost.RootId, dir.Value.Handle, 0, new CollectingWriter(false, 10)));
    }

    [Fact]
    public async Task Readdirplus_counts_a_lookup_per_entry_sent_and_none_for_one_that_did_not_fit()
    {
        var x = new BareNode(70);
        var y = new BareNode(71);
        var host = new NodeHost(new ListedDir(1, ("x", x), ("y", y)));
        var dir = (await host.OpenDirectory(Ctx, NodeHost.RootId, 0)).Value.Handle;

        var plain = new CollectingWriter(plus: false, room: 10);
        Assert.Equal(Errno.Ok, await host.ReadDirectory(Ctx, NodeHost.RootId, dir, 0, plain));
        Assert.Equal([(".", 0ul, 1ul), ("..", 0ul, 1ul), ("x", 0ul, 70ul), ("y", 0ul, 71ul)], plain.Entries);
        Assert.Equal(1, host.NodeCount); // plain readdir hands out no nodes

        var plus = new CollectingWriter(plus: true, room: 3);
        Assert.Equal(Errno.Ok, await host.ReadDirectory(Ctx, NodeHost.RootId, dir, 0, plus));
        Assert.Equal([".", "..", "x"], plus.Entries.Select(e => e.Name));
        var (name, nodeId, _) = plus.Entries[2];
        Assert.Equal(0ul, plus.Entries[0].NodeId + plus.Entries[1].NodeId); // "." and ".." hand out no nodes
        Assert.Equal("x", name);
        Assert.Same(x, host.NodeOf(nodeId));
        Assert.Null(host.NodeOf(y.NodeId)); // sent back: its count was taken back, so the kernel does not hold it
        Assert.Equal(2, host.NodeCount);
        host.Forget(nodeId, 1);
        Assert.Equal(1, host.NodeCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dot_entries_lead_every_listing_and_the_directory_cookies_follow_them(bool plus)
    {
        var sub = new ListedDir(60, ("x", new BareNode(70)), ("y", new BareNode(71)));
        var host = new NodeHost(new ListedDir(1, ("sub", sub)));
        var id = (await host.Lookup(Ctx, NodeHost.RootId, Name("sub"))).Value.NodeId;
        var dir = (await host.OpenDirectory(Ctx, id, 0)).Value.Handle;

        async Task<CollectingWriter> From(ulong cookie, int room = 10)
        {
            var writer = new CollectingWriter(plus, room);
            Assert.Equal(Errno.Ok, await host.ReadDirectory(Ctx, id, dir, cookie, writer));
            return writer;
        }

        // These test nodes know no parent: ".." then names the directory itself.
        var all = await From(0);
        Assert.Equal([".", "..", "x", "y"], all.Entries.Select(e => e.Name));
        Assert.Equal([60ul, 60ul, 70ul, 71ul], all.Entries.Select(e => e.Inode));
        Assert.Equal([1ul, 2ul, 3ul, 4ul], all.Cookies);
        Assert.Equal([0ul, 0ul], all.Entries.Take(2).Select(e => e.NodeId)); // no node handed out for "." and ".."
        Assert.Equal(["..", "x", "y"], (await From(1)).Entries.Select(e => e.Name));
        Assert.Equal(["x", "y"], (await From(2)).Entries.Select(e => e.Name));
        Assert.Equal(["y"], (await From(3)).Entries.Select(e => e.Name));
        Assert.Empty((await From(4)).Entries);

        // One entry per reply, each call continuing from the cookie the last one carried.
        var paged = new List<string>();
        for (ulong cookie = 0; ;)
        {
            var page = await From(cookie, room: 1);
            if (page.Entries.Count == 0) break;
            paged.Add(page.Entries[0].Name);
            cookie = page.Cookies[0];
        }
        Assert.Equal([".", "..", "x", "y"], paged);
    }

    [Fact]
    public async Task A_node_without_a_capability_gets_the_errno_POSIX_gives()
    {
        var bare = new BareNode(80);
        var host = new NodeHost(new ListedDir(1, ("bare", bare), ("opaque", new OpaqueFile(81))));
        var id = (await host.Lookup(Ctx, NodeHost.RootId, Name("bare"))).Value.NodeId;
        var buffer = new byte[8];

        // changes on a read-only node
        Assert.Equal(Errno.EROFS, (await host.SetAttributes(Ctx, id, new SetAttributesRequest(SetAttributeFields.Mode, 0x1FF, 0, 0, 0, default, default, 0))).Error);
        Assert.Equal(Errno.EROFS, await host.SetXattr(Ctx, id, Name("user.a"), Name("v"), XattrSetFlags.None));
        Assert.Equal(Errno.EROFS, await host.RemoveXattr(Ctx, id, Name("user.a")));
        Assert.Equal(Errno.EROFS, (await host.Create(Ctx, NodeHost.RootId, Name("new"), 0x81A4, 0, 0)).Error);
        Assert.Equal(Errno.EROFS, (await host.MakeDirectory(Ctx, NodeHost.RootId, Name("new"), 0x1ED, 0)).Error);
        Assert.Equal(Errno.EROFS, (await host.MakeNode(Ctx, NodeHost.RootId, Name("new"), 0x1000 | 0x1A4, 0, 0)).Error);
        Assert.Equal(Errno.EROFS, (await host.Symlink(Ctx, NodeHost.RootId, Name("new"), Name("target"))).Error);
        Assert.Equal(Errno.EROFS, (await host.Link(Ctx, id, NodeHost.RootId, Name("new"))).Error);
        Assert.Equal(Errno.EROFS, await host.Unlink(Ctx, NodeHost.RootId, Name("bare")));
        Assert.Equal(Errno.EROFS, await host.RemoveDirectory(Ctx, NodeHost.RootId, Name("bare")));
        Assert.Equal(Errno.EROFS, await host.Rename(Ctx, NodeHost.RootId, Name("bare"), NodeHost.RootId, Name("other"), RenameFlags.None));

        // what it is not
        Assert.Equal(Errno.ENOTDIR, (await host.Lookup(Ctx, id, Name("x"))).Error);
        Assert.Equal(Errno.ENOTDIR, (await host.OpenDirectory(Ctx, id, 0)).Error);
        Assert.Equal(Errno.EISDIR, (await host.Open(Ctx, NodeHost.RootId, 0)).Error);
        Assert.Equal(Errno.EACCES, (await host.Open(Ctx, id, 0)).Error);
        Assert.Equal(Errno.EINVAL, (await host.ReadLink(Ctx, id)).Error);
        Assert.Equal(Errno.ENODATA, (await host.GetXattr(Ctx, id, Name("user.a"), buffer)).Error);
        Assert.Equal(0, (await host.ListXattr(Ctx, id, buffer)).Value);
        Assert.Equal(new FileSystemStatistics(0, 0, 0, 0, 0), (await host.GetStatistics(Ctx, id)).Value);

        // an open file that can neither read nor write
        var opaque = (await host.Lookup(Ctx, NodeHost.RootId, Name("opaque"))).Value.NodeId;
        var handle = (await host.Open(Ctx, opaque, 0)).Value.Handle;
        Assert.Equal(Errno.ENOSYS, (await host.Read(Ctx, opaque, handle, 0, buffer)).Error);
        Assert.Equal(Errno.EROFS, (await host.Write(Ctx, opaque, handle, 0, buffer)).Error);
        Assert.Equal(Errno.Ok, await host.Fsync(Ctx, opaque, handle, false));
        Assert.Equal(Errno.Ok, await host.Flush(Ctx, opaque, handle));
        Assert.Equal(Errno.EBADF, (await host.Write(Ctx, opaque, 999, 0, buffer)).Error);
    }

    [Fact]
    public async Task Renames_between_a_read_only_and_a_writable_directory_are_EXDEV()
    {
        var writable = new RenamingDir(90);
        var other = new RenamingDir(91);
        var host = new NodeHost(new ListedDir(1, ("w", writable), ("o", other)));
        var w = (await host.Lookup(Ctx, NodeHost.RootId, Name("w"))).Value.NodeId;
        var o = (await host.Lookup(Ctx, NodeHost.RootId, Name("o"))).Value.NodeId;

        Assert.Equal(Errno.EXDEV, await host.Rename(Ctx, NodeHost.RootId, Name("a"), w, Name("b"), RenameFlags.None));
        Assert.Equal(Errno.Ok, await host.Rename(Ctx, w, Name("a"), o, Name("b"), RenameFlags.None));
        Assert.Equal(1, writable.Renames);
    }

    [Fact]
    public async Task A_throwing_node_is_answered_through_the_one_mapper()
    {
        var lines = new List<string>();
        var root = new ListedDir(1) { Throw = new InvalidDataException("bad bytes") };
        var host = new NodeHost(root, new MountErrorLog(lines.Add));

        Assert.Equal(Errno.EIO, (await host.Lookup(Ctx, NodeHost.RootId, Name("x"))).Error);
        Assert.Equal("backupfs: lookup: bad bytes", Assert.Single(lines));

        root.Throw = new BackupFs.FsHost.Staging.StagingException(Errno.ENOTEMPTY);
        Assert.Equal(Errno.ENOTEMPTY, (await host.Lookup(Ctx, NodeHost.RootId, Name("x"))).Error);
        Assert.Single(lines); // a refusal is not a failure: no line
    }
}
