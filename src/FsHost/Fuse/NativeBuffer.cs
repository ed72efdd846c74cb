using System.Buffers;
using System.Runtime.InteropServices;

namespace BackupFs.FsHost.Fuse;

/// <summary>Page-aligned native memory that can also be handed out as <see cref="Memory{T}"/>
/// (no copies, no GC pressure: the kernel reads and writes it directly).</summary>
internal sealed unsafe class NativeBuffer : MemoryManager<byte>
{
    public byte* Pointer { get; private set; }
    public int Length { get; }

    public NativeBuffer(int length)
    {
        Length = length;
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
    }

    public override Span<byte> GetSpan() => new(Pointer, Length);
    public override MemoryHandle Pin(int elementIndex = 0) => new(Pointer + elementIndex);
    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (Pointer != null) { NativeMemory.AlignedFree(Pointer); Pointer = null; }
    }
}
