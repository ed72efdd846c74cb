using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace BackupFs.Datastore.Formats;

/// <summary>
/// A fixed-size chunk index (.fidx), used for block images. Layout: a 4096-byte header —
/// magic(8) uuid(16) ctime(i64) index_csum(32) size(u64) chunk_size(u64) reserved zeros — then one
/// 32-byte digest per chunk, ceil(size / chunk_size) of them. Chunk i covers
/// [i·chunk_size, min((i+1)·chunk_size, size)); index_csum = SHA-256 of the digests.
/// </summary>
public sealed class FixedIndex : IChunkIndex
{
    public const int HeaderSize = IndexHeader.Size;
    public const long DefaultChunkSize = 4 * 1024 * 1024;
    private const int SizeOffset = 64;
    private const int ChunkSizeOffset = 72;
    private const string Kind = "fixed index";

    private readonly ReadOnlyMemory<byte> _file;
    private readonly int _chunkShift;

    private FixedIndex(ReadOnlyMemory<byte> file, long size, long chunkSize, int count)
    {
        _file = file;
        var span = file.Span;
        Uuid = IndexHeader.ReadUuid(span);
        CTime = IndexHeader.ReadCTime(span);
        Size = size;
        ChunkSize = chunkSize;
        Count = count;
        _chunkShift = BitOperations.Log2((ulong)chunkSize);
    }

    public byte[] Uuid { get; }
    /// <summary>Creation time, Unix epoch seconds.</summary>
    public long CTime { get; }
    public long ChunkSize { get; }
    /// <summary>Image size in bytes.</summary>
    public long Size { get; }
    public int Count { get; }
    public ReadOnlySpan<byte> Checksum => _file.Span.Slice(IndexHeader.ChecksumOffset, IndexHeader.ChecksumSize);

    /// <summary>
    /// Parses a whole .fidx file, checking magic, chunk size (a power of two), the exact file size
    /// and the stored checksum. The index keeps referring to <paramref name="file"/> (no copy).
    /// </summary>
    /// <exception cref="FormatCorruptException">any of those checks fails</exception>
    public static FixedIndex Parse(ReadOnlyMemory<byte> file)
    {
        var span = file.Span;
        IndexHeader.CheckMagic(span, BlobMagic.FixedIndex, Kind);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(span[SizeOffset..]);
        ulong chunkSize = BinaryPrimitives.ReadUInt64LittleEndian(span[ChunkSizeOffset..]);
        if (chunkSize == 0 || !BitOperations.IsPow2(chunkSize) || chunkSize > int.MaxValue)
            throw new FormatCorruptException($"{Kind} has an invalid chunk size {chunkSize} (must be a power of two up to 1 GiB)");
        if (size == 0)
            throw new FormatCorruptException($"{Kind} describes an empty image (size 0)");
        if (size > long.MaxValue)
            throw new FormatCorruptException($"{Kind} image size {size} is out of range");
        ulong count = (size + chunkSize - 1) / chunkSize;
        long expected = HeaderSize + (long)count * Digest.Size;
        if (count > int.MaxValue || span.Length != expected)
            throw new FormatCorruptException(
                $"{Kind} has {span.Length} bytes, but an image of {size} bytes in {chunkSize}-byte chunks needs {HeaderSize} + {count}·{Digest.Size} = {expected}");
        IndexHeader.CheckChecksum(span, Kind);
        return new FixedIndex(file, (long)size, (long)chunkSize, (int)count);
    }

    /// <exception cref="FormatCorruptException">the file is not a valid .fidx (message names the path)</exception>
    public static FixedIndex Load(string path)
    {
        var bytes = Platform.StoreFile.ReadAll(path, Layout.StoreFileLimits.Index);
        try { return Parse(bytes); }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{path}: {e.Message}", e); }
    }

    /// <summary>
    /// Builds the bytes of a whole .fidx file. The uuid is a random v4 one and ctime the current
    /// time unless given.
    /// </summary>
    /// <exception cref="ArgumentException">size ≤ 0, chunk size not a power of two, or the digest count is not ceil(size / chunkSize)</exception>
    public static byte[] Build(long size, long chunkSize, IReadOnlyList<Digest> digests, byte[]? uuid = null, long? ctime = null)
    {
        ArgumentNullException.ThrowIfNull(digests);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if (chunkSize <= 0 || chunkSize > int.MaxValue || !BitOperations.IsPow2(chunkSize))
            throw new ArgumentException($"the chunk size must be a power of two up to 1 GiB (got {chunkSize})", nameof(chunkSize));
        long count = (size + chunkSize - 1) / chunkSize;
        if (digests.Count != count)
            throw new ArgumentException($"an image of {size} bytes in {chunkSize}-byte chunks has {count} chunks, but {digests.Count} digests were given", nameof(digests));

        var file = new byte[HeaderSize + count * Digest.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(SizeOffset), (ulong)size);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(ChunkSizeOffset), (ulong)chunkSize);
        for (int i = 0; i < digests.Count; i++)
            digests[i].CopyTo(file.AsSpan(HeaderSize + i * Digest.Size));
        IndexHeader.Write(file, BlobMagic.FixedIndex, uuid, ctime);
        return file;
    }

    /// <summary>The index_csum of a digest list: SHA-256 of the digests in order (what the manifest records).</summary>
    public static byte[] ComputeChecksum(IReadOnlyList<Digest> digests)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> buffer = stackalloc byte[Digest.Size];
        foreach (var digest in digests)
        {
            digest.CopyTo(buffer);
            sha.AppendData(buffer);
        }
        return sha.GetHashAndReset();
    }

    public Digest DigestAt(int index)
    {
        CheckIndex(index);
        return Digest.FromBytes(_file.Span.Slice(HeaderSize + index * Digest.Size, Digest.Size));
    }

    public long ChunkStart(int index)
    {
        CheckIndex(index);
        return (long)index << _chunkShift;
    }

    public long ChunkEnd(int index)
    {
        CheckIndex(index);
        return Math.Min(((long)index + 1) << _chunkShift, Size);
    }

    public int FindChunk(long offset) => offset < 0 || offset >= Size ? -1 : (int)(offset >> _chunkShift);

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"chunk {index} is outside the index (0..{Count - 1})");
    }
}
