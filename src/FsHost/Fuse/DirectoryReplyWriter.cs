using BackupFs.FsHost.Fuse.Protocol;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Fuse;

/// <summary>Builds a READDIR / READDIRPLUS reply (fuse_dirent / fuse_direntplus records, each
/// padded to 8 bytes) directly in the slot's reply buffer.</summary>
internal sealed unsafe class DirectoryReplyWriter : DirectoryEntryWriter
{
    private readonly RequestSlot _slot;
    private readonly FuseDispatcher _dispatcher;
    private int _capacity;
    private bool _plus;
    private int _count;

    public DirectoryReplyWriter(RequestSlot slot, FuseDispatcher dispatcher) { _slot = slot; _dispatcher = dispatcher; }

    /// <summary>Bytes written so far.</summary>
    public int Length { get; private set; }

    public override bool IsPlus => _plus;
    public override int Count => _count;

    public void Reset(int capacity, bool plus)
    {
        _capacity = Math.Min(capacity, _slot.ReplyPayloadCapacity);
        _plus = plus;
        _count = 0;
        Length = 0;
    }

    public override bool TryAdd(ReadOnlySpan<byte> name, ulong inode, uint mode, ulong nextOffset)
    {
        if (_plus)
        {
            var entry = new EntryInfo { NodeId = 0, Attributes = new NodeAttributes { Inode = inode, Mode = mode } };
            return Append(name, entry, nextOffset, countLookup: false);
        }
        return Append(name, default, nextOffset, countLookup: false, inode, mode);
    }

    public override bool TryAddPlus(ReadOnlySpan<byte> name, in EntryInfo entry, ulong nextOffset) =>
        _plus ? Append(name, entry, nextOffset, countLookup: true)
              : Append(name, default, nextOffset, false, entry.Attributes.Inode != 0 ? entry.Attributes.Inode : entry.NodeId, entry.Attributes.Mode);

    private bool Append(ReadOnlySpan<byte> name, in EntryInfo entry, ulong nextOffset, bool countLookup, ulong inode = 0, uint mode = 0)
    {
        if (name.IsEmpty || name.Length > 1024) return true; // skip names the kernel would reject
        var header = _plus ? sizeof(FuseEntryOut) + sizeof(FuseDirent) : sizeof(FuseDirent);
        var record = (header + name.Length + 7) & ~7;
        if (Length + record > _capacity) return false;

        var p = _slot.ReplyPayload + Length;
        new Span<byte>(p, record).Clear();
        FuseDirent* dirent;
        if (_plus)
        {
            var entryOut = (FuseEntryOut*)p;
            if (countLookup && entry.NodeId != 0) FuseDispatcher.FillEntry(entryOut, entry);
            else entryOut->Attr.Mode = entry.Attributes.Mode; // nodeid 0: kernel only uses the dirent
            dirent = (FuseDirent*)(p + sizeof(FuseEntryOut));
            inode = entry.Attributes.Inode != 0 ? entry.Attributes.Inode : entry.NodeId;
            mode = entry.Attributes.Mode;
        }
        else dirent = (FuseDirent*)p;

        dirent->Ino = inode;
        dirent->Off = nextOffset;
        dirent->NameLen = (uint)name.Length;
        dirent->Type = FileModes.DirentType(mode);
        name.CopyTo(new Span<byte>((byte*)(dirent + 1), name.Length));
        Length += record;
        _count++;
        return true;
    }
}
