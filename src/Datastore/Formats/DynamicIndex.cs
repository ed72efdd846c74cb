using System.Buffers.Binary;
using System.Security.Cryptography;

namespace BackupFs.Datastore.Formats;

/// <summary>
/// A dynamic chunk index (.didx), used for pxar streams and the catalog. Layout: a 4096-byte
/// header — magic(8) uuid(16) ctime(i64) index_csum(32) reserved zeros — then 40-byte entries:
/// end(u64 LE, exclusive, cumulative) and digest(32). Chunk i spans [end(i−1), end(i)) with
/// end(−1) = 0; index_csum = SHA-256 of the entry bytes.
/// </summary>
public sealed class DynamicIndex : IChunkIndex
{
    public const int HeaderSize = IndexHeader.Size;
    public const int EntrySize = 8 + Digest.Size;
    private const string Kind = "dynamic index";

    private readonly ReadOnlyMemory<byte> _file;
    private readonly long[] _ends;

    private DynamicIndex(ReadOnlyMemory<byte> file, long[] ends)
    {
        _file = file;
        _ends = ends;
        Uuid = IndexHeader.ReadUuid(file.Span);
        CTime = IndexHeader.ReadCTime(file.Span);
    }

    public byte[] Uuid { get; }
    /// <summary>Creation time, Unix epoch seconds.</summary>
    public long CTime { get; }
    public int Count => _ends.Length;
    /// <summary>Stream size: the last end offset (0 for an empty index).</summary>
    public long Size => _ends.Length == 0 ? 0 : _ends[^1];
    public ReadOnlySpan<byte> Checksum => _file.Span.Slice(IndexHeader.ChecksumOffset, IndexHeader.ChecksumSize);

    /// <summary>
    /// Parses a whole .didx file, checking magic, that the entries fill the file exactly, the
    /// stored checksum, and that end offsets are strictly increasing. Keeps referring to
    /// <paramref name="file"/> for the digests (no copy).
    /// </summary>
    /// <exception cref="FormatCorruptException">any of those checks fails</exception>
    public static DynamicIndex Parse(ReadOnlyMemory<byte> file)
    {
        var span = file.Span;
        IndexHeader.CheckMagic(span, BlobMagic.DynamicIndex, Kind);
        int body = span.Length - HeaderSize;
        if (body % EntrySize != 0)
            throw new FormatCorruptException($"{Kind} has {span.Length} bytes: after the {HeaderSize}-byte header that is not a whole number of {EntrySize}-byte entries");
        IndexHeader.CheckChecksum(span, Kind);

        var ends = new long[body / EntrySize];
        long previous = 0;
        for (int i = 0; i < ends.Length; i++)
        {
            ulong end = BinaryPrimitives.ReadUInt64LittleEndian(span[(HeaderSize + i * EntrySize)..]);
            if (end > long.MaxValue || (long)end <= previous)
                throw new FormatCorruptException($"{Kind} entry {i} ends at {end}, not after the previous end {previous}");
            ends[i] = (long)end;
            previous = (long)end;
        }
        return new DynamicIndex(file, ends);
    }

    /// <exception cref="FormatCorruptException">the file is not a valid .didx (message names the path)</exception>
    public static DynamicIndex Load(string path)
    {
        var bytes = Platform.StoreFile.ReadAll(path, Layout.StoreFileLimits.Index);
        try { return Parse(bytes); }
        catch (FormatCorruptException e) { throw new FormatCorruptException($"{path}: {e.Message}", e); }
    }

    /// <summary>
    /// Builds the bytes of a whole .didx file. The uuid is a random v4 one and ctime the current
    /// time unless given.
    /// </summary>
    /// <exception cref="ArgumentException">end offsets not strictly increasing from above 0</exception>
    public static byte[] Build(IReadOnlyList<DynamicIndexEntry> entries, byte[]? uuid = null, long? ctime = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var file = new byte[HeaderSize + (long)entries.Count * EntrySize];
        long previous = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            var (end, digest) = entries[i];
            if (end <= previous)
                throw new ArgumentException($"entry {i} ends at {end}, not after the previous end {previous}", nameof(entries));
            previous = end;
            WriteEntry(file.AsSpan(HeaderSize + i * EntrySize, EntrySize), end, digest);
        }
        IndexHeader.Write(file, BlobMagic.DynamicIndex, uuid, ctime);
        return file;
    }

    /// <summary>The index_csum of an entry list: SHA-256 of the 40-byte entries in order (what the manifest records).</summary>
    public static byte[] ComputeChecksum(IReadOnlyList<DynamicIndexEntry> entries)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> buffer = stackalloc byte[EntrySize];
        foreach (var (end, digest) in entries)
        {
            WriteEntry(buffer, end, digest);
            sha.AppendData(buffer);
        }
        return sha.GetHashAndReset();
    }

    public DynamicIndexEntry EntryAt(int index) => new(ChunkEnd(index), DigestAt(index));

    public Digest DigestAt(int index)
    {
        CheckIndex(index);
        return Digest.FromBytes(_file.Span.Slice(HeaderSize + index * EntrySize + 8, Digest.Size));
    }

    public long ChunkStart(int index)
    {
        CheckIndex(index);
        return index == 0 ? 0 : _ends[index - 1];
    }

    public long ChunkEnd(int index)
    {
        CheckIndex(index);
        return _ends[index];
    }

    public int FindChunk(long offset)
    {
        if (offset < 0 || offset >= Size) return -1;
        // The chunk holding offset is the first one whose end lies beyond it.
        int i = Array.BinarySearch(_ends, offset);
        return i >= 0 ? i + 1 : ~i;
    }

    private static void WriteEntry(Span<byte> entry, long end, Digest digest)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(entry, (ulong)end);
        digest.CopyTo(entry[8..]);
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_ends.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"chunk {index} is outside the index (0..{_ends.Length - 1})");
    }
}
