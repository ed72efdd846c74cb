using System.Buffers.Binary;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Pxar;

/// <summary>
/// ENTRY content: mode (with file type bits), PBS feature flags, owner and mtime.
/// Negative times use floor seconds and a non-negative nanosecond remainder.
/// </summary>
public readonly record struct PxarStat(ulong Mode, ulong Flags, uint Uid, uint Gid, long MtimeSeconds, uint MtimeNanoseconds)
{
    public ulong FileType => Mode & FileTypeBits.Mask;
    /// <summary>Permission bits including setuid/setgid/sticky (07777).</summary>
    public uint Permissions => (uint)(Mode & FileTypeBits.PermissionMask);
    public long MtimeTotalNanoseconds => MtimeSeconds * 1_000_000_000L + MtimeNanoseconds;

    public PxarEntryKind Kind => FileType switch
    {
        FileTypeBits.Directory => PxarEntryKind.Directory,
        FileTypeBits.Regular => PxarEntryKind.File,
        FileTypeBits.Symlink => PxarEntryKind.Symlink,
        FileTypeBits.BlockDevice => PxarEntryKind.BlockDevice,
        FileTypeBits.CharDevice => PxarEntryKind.CharDevice,
        FileTypeBits.Fifo => PxarEntryKind.Fifo,
        FileTypeBits.Socket => PxarEntryKind.Socket,
        _ => PxarEntryKind.Unknown,
    };

    /// <summary>Splits nanoseconds since the epoch into floor seconds + positive remainder.</summary>
    public static (long Seconds, uint Nanoseconds) SplitNanoseconds(long ns)
    {
        long secs = Math.DivRem(ns, 1_000_000_000L, out long rem);
        if (rem < 0) { secs--; rem += 1_000_000_000L; }
        return (secs, (uint)rem);
    }

    public static PxarStat Read(ReadOnlySpan<byte> content) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(content),
        BinaryPrimitives.ReadUInt64LittleEndian(content[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(content[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(content[20..]),
        BinaryPrimitives.ReadInt64LittleEndian(content[24..]),
        BinaryPrimitives.ReadUInt32LittleEndian(content[32..]));

    /// <summary>Legacy 32-byte ENTRY_V1 content (mtime as u64 nanoseconds).</summary>
    public static PxarStat ReadV1(ReadOnlySpan<byte> content)
    {
        var (secs, nanos) = SplitNanoseconds((long)BinaryPrimitives.ReadUInt64LittleEndian(content[24..]));
        return new(BinaryPrimitives.ReadUInt64LittleEndian(content), BinaryPrimitives.ReadUInt64LittleEndian(content[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(content[16..]), BinaryPrimitives.ReadUInt32LittleEndian(content[20..]), secs, nanos);
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Mode);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], Gid);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], MtimeSeconds);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[32..], MtimeNanoseconds);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[36..], 0);
    }
}
