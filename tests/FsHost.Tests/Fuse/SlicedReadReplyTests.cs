using System.Buffers.Binary;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>READ replies gathered from chunk slices (writev), checked on the wire without a kernel.</summary>
public sealed class SlicedReadReplyTests
{
    private const uint Read = 15;

    /// <summary>Node 2 reads as <paramref name="slices"/> chunks of 1,000 bytes (byte i of chunk c is c + i),
    /// or fails after adding them; every chunk it hands over is kept to check its release.</summary>
    private sealed class ChunkedFile(int slices, bool failAfterAdding = false, bool async = false) : ReadOnlyFileSystemBase, IFileSystem
    {
        public readonly List<ChunkBuffer> HandedOut = new();

        public override ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name) => Done<EntryInfo>(Errno.ENOENT);
        public override ValueTask<VfsResult<AttributeInfo>> GetAttributes(RequestContext ctx, ulong node, ulong? handle) => Done<AttributeInfo>(Errno.ENOENT);
        public override ValueTask<Errno> ReadDirectory(RequestContext ctx, ulong node, ulong handle, ulong offset, DirectoryEntryWriter writer) => Done(Errno.Ok);

        public async ValueTask<VfsResult<int>> ReadInto(RequestContext ctx, ulong node, ulong handle, long offset, ReadSlices into)
        {
            if (async) await Task.Yield();
            for (int c = 0; c < slices; c++)
            {
                var chunk = ChunkBuffer.Rent(1_000);
                for (int i = 0; i < 1_000; i++) chunk.WritableSpan[i] = (byte)(c + i);
                lock (HandedOut) HandedOut.Add(chunk);
                into.Add(chunk, 0, 1_000);
            }
            if (failAfterAdding) return Errno.EIO;
            return into.Length;
        }
    }

    private static byte[] ReadBody(uint size)
    {
        var body = new byte[40];
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), size);
        return body;
    }

    private static byte[] Expected(int slices)
    {
        var all = new byte[slices * 1_000];
        for (int c = 0; c < slices; c++)
            for (int i = 0; i < 1_000; i++) all[c * 1_000 + i] = (byte)(c + i);
        return all;
    }

    private static byte[] ReceiveWithin(DispatcherHarness h)
    {
        byte[]? reply = null;
        Assert.True(SpinWait.SpinUntil(() => (reply = h.Receive()) is not null, TimeSpan.FromSeconds(10)), "no reply");
        return reply!;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(40, false)] // more than a reply gathers: copied into the reply buffer instead
    public void The_reply_carries_the_slices_bytes_and_lets_go_of_every_chunk(int slices, bool async)
    {
        var fs = new ChunkedFile(slices, async: async);
        using var h = new DispatcherHarness(fs);
        h.Send(Read, 2, ReadBody(64 * 1024), unique: 41);
        var reply = ReceiveWithin(h);

        Assert.Equal(((uint)(16 + slices * 1_000), 0, 41ul), DispatcherHarness.Header(reply));
        Assert.Equal(Expected(slices), reply[16..]);
        Assert.True(SpinWait.SpinUntil(() => h.Dispatcher.PendingCount == 0, TimeSpan.FromSeconds(10)));
        Assert.All(fs.HandedOut, chunk => Assert.False(chunk.TryAddRef(), "a chunk reference was never released"));
    }

    [Fact]
    public void A_read_that_fails_after_adding_slices_replies_its_error_and_lets_go_of_them()
    {
        var fs = new ChunkedFile(3, failAfterAdding: true);
        using var h = new DispatcherHarness(fs);
        h.Send(Read, 2, ReadBody(64 * 1024), unique: 42);
        Assert.Equal((16u, -5, 42ul), DispatcherHarness.Header(ReceiveWithin(h)));
        Assert.All(fs.HandedOut, chunk => Assert.False(chunk.TryAddRef()));
    }
}
