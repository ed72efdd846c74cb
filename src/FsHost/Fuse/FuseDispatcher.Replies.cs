using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Fuse.Interop;
using BackupFs.FsHost.Fuse.Protocol;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Fuse;

// Reply builders: each writes the exact structure the kernel expects for its opcode.
internal sealed unsafe partial class FuseDispatcher
{
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<EntryInfo>> ReplyEntryAction = static (d, s, r) => d.ReplyEntry(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<AttributeInfo>> ReplyAttrAction = static (d, s, r) => d.ReplyAttr(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<ReadOnlyMemory<byte>>> ReplyBytesAction = static (d, s, r) => d.ReplyBytes(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<OpenInfo>> ReplyOpenAction = static (d, s, r) => d.ReplyOpen(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<int>> ReplyReadAction = static (d, s, r) => d.ReplyRead(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<int>> ReplyWriteAction = static (d, s, r) => d.ReplyWrite(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<int>> ReplyXattrAction = static (d, s, r) => d.ReplyXattr(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, Errno> ReplyStatusAction = static (d, s, r) => d.ReplyStatus(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, Errno> ReplyDirectoryAction = static (d, s, r) => d.ReplyDirectory(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<FileSystemStatistics>> ReplyStatFsAction = static (d, s, r) => d.ReplyStatFs(s, r);
    private static readonly Action<FuseDispatcher, RequestSlot, VfsResult<CreateInfo>> ReplyCreateAction = static (d, s, r) => d.ReplyCreate(s, r);

    private void ReplyEntry(RequestSlot s, VfsResult<EntryInfo> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        FillEntry((FuseEntryOut*)s.ReplyPayload, r.Value);
        Reply(s, sizeof(FuseEntryOut));
    }

    private void ReplyAttr(RequestSlot s, VfsResult<AttributeInfo> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        var o = (FuseAttrOut*)s.ReplyPayload;
        (o->AttrValid, o->AttrValidNsec) = Split(r.Value.AttributeTimeout);
        o->Dummy = 0;
        FillAttr(&o->Attr, r.Value.Attributes);
        Reply(s, sizeof(FuseAttrOut));
    }

    private void ReplyBytes(RequestSlot s, VfsResult<ReadOnlyMemory<byte>> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        var data = r.Value.Span;
        if (data.Length > s.ReplyPayloadCapacity) { ReplyError(s, Errno.ENAMETOOLONG); return; }
        data.CopyTo(new Span<byte>(s.ReplyPayload, data.Length));
        Reply(s, data.Length);
    }

    private void ReplyOpen(RequestSlot s, VfsResult<OpenInfo> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        FillOpen((FuseOpenOut*)s.ReplyPayload, r.Value, s.Header.NodeId);
        Reply(s, sizeof(FuseOpenOut));
    }

    private void ReplyRead(RequestSlot s, VfsResult<int> r)
    {
        var slices = s.ReadSlices;
        try
        {
            if (!r.IsOk) ReplyError(s, r.Error);
            else if (!slices.IsSliced) Reply(s, Math.Clamp(r.Value, 0, s.RequestedSize));
            else
            {
                s.Transport.SendSlices(s, slices);
                s.Replied = true; // not before: if the send threw, the request still gets its error reply
            }
        }
        finally { slices.Release(); } // the chunks go back to the cache's keeping once the kernel has the bytes
    }

    private void ReplyWrite(RequestSlot s, VfsResult<int> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        var o = (FuseWriteOut*)s.ReplyPayload;
        o->Size = (uint)Math.Max(0, r.Value);
        o->Padding = 0;
        Reply(s, sizeof(FuseWriteOut));
    }

    private void ReplyXattr(RequestSlot s, VfsResult<int> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        if (s.RequestedSize == 0)
        {
            var o = (FuseGetXattrOut*)s.ReplyPayload;
            o->Size = (uint)Math.Max(0, r.Value);
            o->Padding = 0;
            Reply(s, sizeof(FuseGetXattrOut));
        }
        else if (r.Value > s.RequestedSize) ReplyError(s, Errno.ERANGE);
        else Reply(s, Math.Max(0, r.Value));
    }

    private void ReplyStatus(RequestSlot s, Errno e)
    {
        if (!e.IsOk) ReplyError(s, e);
        else Reply(s, 0);
    }

    private void ReplyDirectory(RequestSlot s, Errno e)
    {
        if (!e.IsOk) ReplyError(s, e);
        else Reply(s, s.DirectoryWriter.Length);
    }

    private void ReplyStatFs(RequestSlot s, VfsResult<FileSystemStatistics> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        var st = r.Value;
        var o = (FuseKStatFs*)s.ReplyPayload;
        *o = default;
        o->Blocks = st.Blocks; o->BFree = st.FreeBlocks; o->BAvail = st.AvailableBlocks;
        o->Files = st.Files; o->FFree = st.FreeFiles;
        o->BSize = st.BlockSize; o->NameLen = st.MaxNameLength; o->FrSize = st.FragmentSize;
        Reply(s, sizeof(FuseKStatFs));
    }

    private void ReplyCreate(RequestSlot s, VfsResult<CreateInfo> r)
    {
        if (!r.IsOk) { ReplyError(s, r.Error); return; }
        FillEntry((FuseEntryOut*)s.ReplyPayload, r.Value.Entry);
        FillOpen((FuseOpenOut*)(s.ReplyPayload + sizeof(FuseEntryOut)), r.Value.Open, r.Value.Entry.NodeId);
        Reply(s, sizeof(FuseEntryOut) + sizeof(FuseOpenOut));
    }

    // ---- structure fillers ----

    internal static void FillEntry(FuseEntryOut* o, in EntryInfo e)
    {
        o->NodeId = e.NodeId;
        o->Generation = e.Generation;
        (o->EntryValid, o->EntryValidNsec) = Split(e.EntryTimeout);
        (o->AttrValid, o->AttrValidNsec) = Split(e.AttributeTimeout);
        if (e.NodeId == 0) { o->Attr = default; return; }
        FillAttr(&o->Attr, e.Attributes);
        if (o->Attr.Ino == 0) o->Attr.Ino = e.NodeId;
    }

    private static void FillAttr(FuseAttr* a, in NodeAttributes n)
    {
        a->Ino = n.Inode;
        a->Size = n.Size;
        a->Blocks = n.Blocks != 0 ? n.Blocks : (n.Size + 511) / 512;
        a->Atime = (ulong)n.AccessTime.Seconds; a->AtimeNsec = n.AccessTime.Nanoseconds;
        a->Mtime = (ulong)n.ModificationTime.Seconds; a->MtimeNsec = n.ModificationTime.Nanoseconds;
        a->Ctime = (ulong)n.ChangeTime.Seconds; a->CtimeNsec = n.ChangeTime.Nanoseconds;
        a->Mode = n.Mode;
        a->Nlink = n.LinkCount != 0 ? n.LinkCount : 1;
        a->Uid = n.Uid; a->Gid = n.Gid; a->Rdev = n.Rdev;
        a->BlkSize = n.BlockSize;
        a->Flags = 0;
    }

    private void FillOpen(FuseOpenOut* o, in OpenInfo info, ulong node)
    {
        o->Fh = info.Handle;
        o->OpenFlags = (uint)info.Options;
        o->BackingId = 0;
        // With a backing file the kernel reads and writes it itself; without passthrough on this
        // connection (or when registering fails) the open simply goes through us as before.
        if (info.BackingFile is not { } backing) return;
        if (Passthrough.Opened(node, info.Handle, backing) is var id and > 0)
        {
            o->BackingId = id;
            o->OpenFlags = (o->OpenFlags | FuseOpenFlags.Passthrough) & ~(uint)OpenOptions.DirectIo;
        }
        // Refused (another backing file on this inode, or registering failed): direct I/O through
        // us, since a cached open would conflict with the inode's passthrough opens (EIO at open).
        else if (Passthrough.Enabled) o->OpenFlags |= (uint)OpenOptions.DirectIo;
    }

    private static (ulong Seconds, uint Nanoseconds) Split(TimeSpan t)
    {
        if (t <= TimeSpan.Zero) return (0, 0);
        var ticks = t.Ticks;
        return ((ulong)(ticks / TimeSpan.TicksPerSecond), (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }

    // ---- raw replies ----

    private bool ReplyError(RequestSlot s, Errno e)
    {
        var code = e.Code is > 0 and <= MaxErrno ? e.Code : Errno.EIO.Code;
        Send(s, 0, -code);
        return false;
    }

    private bool Reply(RequestSlot s, int payloadLength)
    {
        Send(s, payloadLength, 0);
        return false;
    }

    private void Send(RequestSlot s, int payloadLength, int error)
    {
        s.Replied = true;
        s.Transport.Send(s, payloadLength, error);
    }

    /// <summary>Replies with one write(2) on /dev/fuse out of the slot's own reply buffer.</summary>
    private sealed class DeviceTransport(FuseDispatcher dispatcher) : IRequestTransport
    {
        public void Send(RequestSlot s, int payloadLength, int error)
        {
            FillHeader(s, payloadLength, error);
            Check(s, dispatcher._device.Write(s.ReplyPointer, RequestSlot.OutHeaderSize + payloadLength));
        }

        /// <summary>One writev of the header and the chunk slices: the kernel copies the data straight
        /// from the decoded chunks into the page cache.</summary>
        public void SendSlices(RequestSlot s, ReadSlices slices)
        {
            FillHeader(s, slices.Length, 0);
            var count = slices.Count;
            var pins = s.SlicePins;
            var vectors = stackalloc LibC.IoVector[1 + count];
            vectors[0] = new LibC.IoVector { Base = s.ReplyPointer, Length = RequestSlot.OutHeaderSize };
            try
            {
                for (int i = 0; i < count; i++)
                {
                    var slice = slices[i];
                    pins[i] = slice.Pin();
                    vectors[1 + i] = new LibC.IoVector { Base = pins[i].Pointer, Length = (nuint)slice.Length };
                }
                Check(s, dispatcher._device.Write(vectors, 1 + count));
            }
            finally
            {
                for (int i = 0; i < count; i++) pins[i].Dispose();
            }
        }

        private static void FillHeader(RequestSlot s, int payloadLength, int error)
        {
            var h = (FuseOutHeader*)s.ReplyPointer;
            h->Length = (uint)(RequestSlot.OutHeaderSize + payloadLength);
            h->Error = error;
            h->Unique = s.Header.Unique;
        }

        private void Check(RequestSlot s, int errno)
        {
            // ENOENT: the request was interrupted meanwhile; ENODEV: the session is over.
            if (errno != 0 && errno != LibC.ENOENT && errno != LibC.ENODEV)
                dispatcher._log($"fuse: reply to {s.Header.Opcode} failed: {LibC.Describe(errno)}");
        }

        public void Recycle(RequestSlot s) => dispatcher.Pool.Return(s);
    }
}
