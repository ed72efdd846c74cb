using System.Buffers.Binary;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Pxar;

/// <summary>The 16-byte header before every pxar item: type and full size (header included).</summary>
public readonly record struct PxarHeader(ulong Type, ulong FullSize)
{
    public long ContentSize => (long)(FullSize - PxarFormat.HeaderSize);

    public static PxarHeader ForContent(ulong type, long contentSize) => new(type, (ulong)contentSize + PxarFormat.HeaderSize);

    /// <summary>Parses a header found at <paramref name="position"/> and checks its size against the type's limit.</summary>
    public static PxarHeader Read(ReadOnlySpan<byte> bytes, long position)
    {
        var header = new PxarHeader(BinaryPrimitives.ReadUInt64LittleEndian(bytes), BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]));
        if (header.FullSize < PxarFormat.HeaderSize)
            throw new FormatCorruptException($"pxar: item at offset {position} has full size {header.FullSize} < 16");
        if (header.FullSize > long.MaxValue)
            throw new FormatCorruptException($"pxar: item at offset {position} has an impossible size {header.FullSize}");
        long max = PxarFormat.MaxContentSize(header.Type);
        if (max >= 0 && header.ContentSize > max)
            throw new FormatCorruptException($"pxar: item {header.Type:x16} at offset {position} is {header.ContentSize} bytes, more than the {max} allowed");
        return header;
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Type);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], FullSize);
    }
}
