using System.Buffers.Binary;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>Protocol behaviour checked byte for byte, no kernel needed.</summary>
public sealed unsafe class FuseDispatcherTests
{
    private const uint Lookup = 1, Forget = 2, GetAttr = 3, Write = 16, Init = 26, ReadDir = 28, Interrupt = 36, BatchForget = 42, Statx = 52;

    /// <summary>A tiny read-only tree on the base class: root with one file "a" (node 2).</summary>
    private sealed class TinyTree : ReadOnlyFileSystemBase
    {
        public ulong Forgotten;
        public TaskCompletionSource<VfsResult<AttributeInfo>>? Pending;
        public bool Throw;

        private static NodeAttributes Attr(ulong node) => new()
        {
            Inode = node, Mode = node == 1 ? FileModes.Directory | 0x1ED : FileModes.Regular | 0x1A4, Size = node == 1 ? 0ul : 5,
        };

        public override ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name)
        {
            if (Throw) throw new InvalidOperationException("boom");
            return Done<EntryInfo>(name.Span.SequenceEqual("a"u8)
                ? new EntryInfo { NodeId = 2, Attributes = Attr(2), EntryTimeout = TimeSpan.FromSeconds(60), AttributeTimeout = TimeSpan.FromSeconds(1.5) }
                : EntryInfo.Negative(TimeSpan.FromSeconds(30)));
        }

        public override void Forget(ulong node, ulong lookupCount) => Forgotten += lookupCount;

        public override ValueTask<VfsResult<AttributeInfo>> GetAttributes(RequestContext ctx, ulong node, ulong? handle) =>
            Pending is { } p ? new ValueTask<VfsResult<AttributeInfo>>(p.Task) : Done<AttributeInfo>(new AttributeInfo(Attr(node), TimeSpan.FromSeconds(60)));

        public override ValueTask<Errno> ReadDirectory(RequestContext ctx, ulong node, ulong handle, ulong offset, DirectoryEntryWriter writer)
        {
            if (offset < 1 && !writer.TryAdd("."u8, 1, FileModes.Directory, 1)) return Done(Errno.Ok);
            if (offset < 2 && !writer.TryAdd("a"u8, 2, FileModes.Regular, 2)) return Done(Errno.Ok);
            return Done(Errno.Ok);
        }
    }

    private static byte[] InitBody(uint minor, uint flags)
    {
        var b = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 7);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), minor);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 131072);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), 0x5fd);
        return b;
    }

    [Fact]
    public void Kernel_struct_sizes_match_the_protocol() => BackupFs.FsHost.Fuse.Protocol.KernelStructSizes.Verify();

    [Fact]
    public void Init_negotiates_version_flags_and_sizes()
    {
        var fs = new TinyTree();
        using var h = new DispatcherHarness(fs);
        Assert.False(h.Send(Init, 0, InitBody(45, 0x73fffffb), unique: 1));
        var reply = h.Receive()!;
        Assert.Equal((80u, 0, 1ul), DispatcherHarness.Header(reply));
        var o = reply.AsSpan(16);
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(o));
        Assert.Equal(38u, BinaryPrimitives.ReadUInt32LittleEndian(o[4..]));
        Assert.Equal(131072u, BinaryPrimitives.ReadUInt32LittleEndian(o[8..]));
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(o[12..]);
        uint wanted = 1 | 1 << 5 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15 | 1 << 18 | 1 << 22 | 1 << 23;
        Assert.Equal(wanted & 0x73fffffb, flags);
        Assert.Equal(64, BinaryPrimitives.ReadUInt16LittleEndian(o[16..]));   // max_background
        Assert.Equal(48, BinaryPrimitives.ReadUInt16LittleEndian(o[18..]));   // congestion_threshold
        Assert.Equal(1u << 20, BinaryPrimitives.ReadUInt32LittleEndian(o[20..])); // max_write
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(o[24..]));   // time_gran
        Assert.Equal(256, BinaryPrimitives.ReadUInt16LittleEndian(o[28..]));  // max_pages
        Assert.Equal(1, h.InitCalls);
        Assert.NotNull(fs.Notifier);
    }

    [Fact]
    public void Init_from_an_old_kernel_gets_the_compat_size_and_only_offered_flags()
    {
        using var h = new DispatcherHarness(new TinyTree());
        h.Send(Init, 0, InitBody(22, 1).AsSpan(0, 16));
        var reply = h.Receive()!;
        Assert.Equal(16u + 24, DispatcherHarness.Header(reply).Length);
        Assert.Equal(22u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(20)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(28)));
    }

    [Fact]
    public void Unknown_opcodes_get_a_bare_ENOSYS_header()
    {
        using var h = new DispatcherHarness(new TinyTree());
        foreach (var op in new uint[] { Statx, 34, 9999 })
        {
            h.Send(op, 1, [], unique: op);
            Assert.Equal((16u, -38, (ulong)op), DispatcherHarness.Header(h.Receive()!));
        }
    }

    [Fact]
    public void Forget_batch_forget_and_interrupt_get_no_reply()
    {
        var fs = new TinyTree();
        using var h = new DispatcherHarness(fs);
        var forget = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(forget, 3);
        h.Send(Forget, 2, forget);
        var batch = new byte[8 + 2 * 16];
        BinaryPrimitives.WriteUInt32LittleEndian(batch, 2);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(16), 4);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(24), 5);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(32), 5);
        h.Send(BatchForget, 0, batch);
        h.Send(Interrupt, 0, new byte[8]);
        Assert.Null(h.Receive());
        Assert.Equal(12ul, fs.Forgotten);
    }

    [Fact]
    public void Lookup_replies_entries_negative_entries_and_errors()
    {
        var fs = new TinyTree();
        using var h = new DispatcherHarness(fs);
        h.Send(Lookup, 1, DispatcherHarness.Name("a"));
        var hit = h.Receive()!;
        Assert.Equal((16u + 128, 0, 7ul), DispatcherHarness.Header(hit));
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(hit.AsSpan(16)));         // nodeid
        Assert.Equal(60ul, BinaryPrimitives.ReadUInt64LittleEndian(hit.AsSpan(16 + 16)));   // entry_valid
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(hit.AsSpan(16 + 24)));    // attr_valid
        Assert.Equal(500_000_000u, BinaryPrimitives.ReadUInt32LittleEndian(hit.AsSpan(16 + 36)));
        Assert.Equal(5ul, BinaryPrimitives.ReadUInt64LittleEndian(hit.AsSpan(16 + 40 + 8))); // attr.size
        Assert.Equal(FileModes.Regular | 0x1A4, BinaryPrimitives.ReadUInt32LittleEndian(hit.AsSpan(16 + 40 + 60)));

        h.Send(Lookup, 1, DispatcherHarness.Name("zz"));
        var miss = h.Receive()!;
        Assert.Equal((16u + 128, 0, 7ul), DispatcherHarness.Header(miss));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(miss.AsSpan(16)));
        Assert.Equal(30ul, BinaryPrimitives.ReadUInt64LittleEndian(miss.AsSpan(32)));

        h.Send(Lookup, 1, "abc"u8); // no NUL terminator: malformed
        Assert.Equal((16u, -22, 7ul), DispatcherHarness.Header(h.Receive()!));

        fs.Throw = true;
        h.Send(Lookup, 1, DispatcherHarness.Name("a"));
        Assert.Equal((16u, -5, 7ul), DispatcherHarness.Header(h.Receive()!));
        Assert.Contains(h.Log, l => l.Contains("boom"));
    }

    [Fact]
    public void Writes_to_a_read_only_base_answer_EROFS_and_malformed_writes_EINVAL()
    {
        using var h = new DispatcherHarness(new TinyTree());
        var body = new byte[40 + 3];
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), 3);
        h.Send(Write, 2, body);
        Assert.Equal((16u, -30, 7ul), DispatcherHarness.Header(h.Receive()!));
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), 100); // claims more data than sent
        h.Send(Write, 2, body);
        Assert.Equal((16u, -22, 7ul), DispatcherHarness.Header(h.Receive()!));
    }

    [Fact]
    public void Readdir_packs_dirents_padded_to_eight_bytes()
    {
        using var h = new DispatcherHarness(new TinyTree());
        var read = new byte[40];
        BinaryPrimitives.WriteUInt32LittleEndian(read.AsSpan(16), 4096);
        h.Send(ReadDir, 1, read);
        var reply = h.Receive()!;
        Assert.Equal(16u + 32 + 32, DispatcherHarness.Header(reply).Length);
        var first = reply.AsSpan(16);
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(first[8..]));  // next cookie
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(first[16..])); // namelen
        Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(first[20..])); // DT_DIR
        var second = reply.AsSpan(16 + 32);
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(second[20..])); // DT_REG
        Assert.Equal((byte)'a', second[24]);

        BinaryPrimitives.WriteUInt64LittleEndian(read.AsSpan(8), 2); // offset past the end
        h.Send(ReadDir, 1, read);
        Assert.Equal(16u, DispatcherHarness.Header(h.Receive()!).Length); // empty = end of directory
    }

    [Fact]
    public void A_pending_operation_keeps_its_slot_and_replies_when_it_completes()
    {
        var fs = new TinyTree { Pending = new TaskCompletionSource<VfsResult<AttributeInfo>>(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var h = new DispatcherHarness(fs);
        Assert.True(h.Send(GetAttr, 2, new byte[16], unique: 99));
        Assert.Null(h.Receive());
        Assert.Equal(1, h.Dispatcher.PendingCount);
        fs.Pending.SetResult(Errno.EACCES);
        Assert.True(SpinWait.SpinUntil(() => h.Dispatcher.PendingCount == 0, TimeSpan.FromSeconds(10)));
        Assert.Equal((16u, -13, 99ul), DispatcherHarness.Header(h.Receive()!));
    }

    [Fact]
    public void A_handler_that_fails_asynchronously_gets_EIO_with_a_log_line_and_the_next_request_is_served()
    {
        var fs = new TinyTree { Pending = new TaskCompletionSource<VfsResult<AttributeInfo>>(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var h = new DispatcherHarness(fs);
        Assert.True(h.Send(GetAttr, 2, new byte[16], unique: 41));
        fs.Pending.SetException(new InvalidOperationException("late boom"));
        Assert.True(SpinWait.SpinUntil(() => h.Dispatcher.PendingCount == 0, TimeSpan.FromSeconds(10)));
        Assert.Equal((16u, -5, 41ul), DispatcherHarness.Header(h.Receive()!));
        Assert.Contains(h.Log, l => l.Contains("late boom"));

        // Already faulted when returned: answered the same way.
        fs.Pending = new TaskCompletionSource<VfsResult<AttributeInfo>>();
        fs.Pending.SetException(new IOException("early boom"));
        h.Send(GetAttr, 2, new byte[16], unique: 42);
        Assert.True(SpinWait.SpinUntil(() => h.Dispatcher.PendingCount == 0, TimeSpan.FromSeconds(10)));
        Assert.Equal((16u, -5, 42ul), DispatcherHarness.Header(h.Receive()!));

        fs.Pending = null;
        h.Send(GetAttr, 2, new byte[16], unique: 43);
        Assert.Equal(0, DispatcherHarness.Header(h.Receive()!).Error);
    }

    [Fact]
    public void Inline_replies_allocate_nothing_per_request()
    {
        using var h = new DispatcherHarness(new TinyTree());
        var slot = h.Dispatcher.Pool.Rent();
        var reply = stackalloc byte[4096];
        ReadOnlySpan<byte> body = stackalloc byte[16];
        for (var i = 0; i < 100; i++) { h.Send(GetAttr, 2, body, slot: slot); slot = h.Dispatcher.Pool.Rent(); h.ReceiveInto(reply, 4096); }
        // Several rounds: tiered JIT may allocate once while methods are promoted; a per-request
        // allocation would show in every round.
        var allocated = long.MaxValue;
        for (var round = 0; round < 5 && allocated != 0; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++) { h.Send(GetAttr, 2, body, slot: slot); slot = h.Dispatcher.Pool.Rent(); h.ReceiveInto(reply, 4096); }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        h.Dispatcher.Pool.Return(slot);
        Assert.Equal(0, allocated);
        Assert.Equal(16 + 104, BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(reply, 4)));
    }
}
