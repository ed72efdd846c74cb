using BackupFs.FsHost.Fuse.Protocol;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Fuse;

/// <summary>Sends unsolicited notifications (unique = 0) to the kernel over the session's device.</summary>
internal sealed unsafe class FuseKernelNotifier : IKernelNotifier
{
    private const int MaxName = 1024;
    private readonly FuseDevice _device;

    public FuseKernelNotifier(FuseDevice device) => _device = device;

    public Errno InvalidateNode(ulong nodeId, long offset = 0, long length = 0)
    {
        var size = sizeof(FuseOutHeader) + sizeof(FuseNotifyInvalInodeOut);
        var buffer = stackalloc byte[size];
        var body = (FuseNotifyInvalInodeOut*)(buffer + sizeof(FuseOutHeader));
        body->Ino = nodeId; body->Off = offset; body->Len = length;
        return Send(buffer, size, FuseNotifyCode.InvalInode);
    }

    public Errno InvalidateEntry(ulong parentId, ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > MaxName) return Errno.EINVAL;
        var size = sizeof(FuseOutHeader) + sizeof(FuseNotifyInvalEntryOut) + name.Length + 1;
        var buffer = stackalloc byte[size];
        var body = (FuseNotifyInvalEntryOut*)(buffer + sizeof(FuseOutHeader));
        body->Parent = parentId; body->NameLen = (uint)name.Length; body->Flags = 0;
        CopyName(name, (byte*)(body + 1));
        return Send(buffer, size, FuseNotifyCode.InvalEntry);
    }

    public Errno DeleteEntry(ulong parentId, ulong childId, ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > MaxName) return Errno.EINVAL;
        var size = sizeof(FuseOutHeader) + sizeof(FuseNotifyDeleteOut) + name.Length + 1;
        var buffer = stackalloc byte[size];
        var body = (FuseNotifyDeleteOut*)(buffer + sizeof(FuseOutHeader));
        body->Parent = parentId; body->Child = childId; body->NameLen = (uint)name.Length; body->Padding = 0;
        CopyName(name, (byte*)(body + 1));
        return Send(buffer, size, FuseNotifyCode.Delete);
    }

    private static void CopyName(ReadOnlySpan<byte> name, byte* destination)
    {
        name.CopyTo(new Span<byte>(destination, name.Length));
        destination[name.Length] = 0;
    }

    private Errno Send(byte* buffer, int size, FuseNotifyCode code)
    {
        var header = (FuseOutHeader*)buffer;
        header->Length = (uint)size; header->Error = (int)code; header->Unique = 0;
        var errno = _device.Write(buffer, size);
        return new Errno(errno);
    }
}
