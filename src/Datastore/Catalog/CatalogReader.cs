using System.Buffers.Binary;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Catalog;

/// <summary>
/// Reads a PBS file catalog (see <see cref="CatalogWriter"/> for the layout) from a random-access
/// source, one directory table at a time: listing a path reads one table per path component and
/// nothing of the pxar archive. Hostile input gives <see cref="FormatCorruptException"/>, never a
/// hang: a directory's table must lie before its parent's (as the writer puts it), so offsets can
/// only move backwards and a path walk cannot loop; tables and entry counts are capped.
/// </summary>
public sealed class CatalogReader
{
    public const long DefaultMaxTableBytes = 64L * 1024 * 1024;
    public const int DefaultMaxEntries = 2_000_000;
    private const int MagicLength = 8, TailLength = 8;

    private readonly IRandomAccessSource _source;
    private readonly long _maxTableBytes;
    private readonly int _maxEntries;

    /// <summary>The root directory: its table lists one directory per archive ("root.pxar.didx").</summary>
    public CatalogEntry Root { get; }

    private CatalogReader(IRandomAccessSource source, CatalogEntry root, long maxTableBytes, int maxEntries)
    {
        _source = source;
        Root = root;
        _maxTableBytes = maxTableBytes;
        _maxEntries = maxEntries;
    }

    /// <summary>Checks the magic and reads the tail pointer to the root table.</summary>
    public static async ValueTask<CatalogReader> OpenAsync(IRandomAccessSource source, long maxTableBytes = DefaultMaxTableBytes,
        int maxEntries = DefaultMaxEntries, CancellationToken ct = default)
    {
        long length = source.Length;
        if (length < MagicLength + TailLength + 2)
            throw new FormatCorruptException($"catalog: {length} bytes is too short for a catalog");
        var head = new byte[MagicLength];
        await ReadExactlyAsync(source, 0, head, ct).ConfigureAwait(false);
        if (!head.AsSpan().SequenceEqual(BlobMagic.Catalog))
            throw new FormatCorruptException("catalog: wrong magic (not a 'Proxmox Backup Catalog file v1.0')");
        var tail = new byte[TailLength];
        await ReadExactlyAsync(source, length - TailLength, tail, ct).ConfigureAwait(false);
        ulong rootStart = BinaryPrimitives.ReadUInt64LittleEndian(tail);
        long limit = length - TailLength;
        if (rootStart < MagicLength || rootStart >= (ulong)limit)
            throw new FormatCorruptException($"catalog: root table offset {rootStart} lies outside the catalog ({MagicLength}..{limit})");
        var root = new CatalogEntry([], CatalogEntryKind.Directory) { TableOffset = (long)rootStart, TableLimit = limit };
        return new CatalogReader(source, root, maxTableBytes, maxEntries);
    }

    /// <summary>The entries of a directory, in the order the catalog stores them (the archive's order).</summary>
    public async ValueTask<IReadOnlyList<CatalogEntry>> ReadDirectoryAsync(CatalogEntry directory, CancellationToken ct = default)
    {
        var list = new List<CatalogEntry>();
        await ParseAsync(directory, e => { list.Add(e); return true; }, ct).ConfigureAwait(false);
        return list;
    }

    /// <summary>The entry named <paramref name="name"/> in <paramref name="directory"/>, or null.</summary>
    public async ValueTask<CatalogEntry?> LookupAsync(CatalogEntry directory, ReadOnlyMemory<byte> name, CancellationToken ct = default)
    {
        CatalogEntry? found = null;
        await ParseAsync(directory, e =>
        {
            if (!e.Name.AsSpan().SequenceEqual(name.Span)) return true;
            found = e;
            return false;
        }, ct).ConfigureAwait(false);
        return found;
    }

    /// <summary>
    /// The entry at a '/'-separated path from the root ("/" is the root, "root.pxar.didx/etc/hosts" a
    /// file in an archive); null when a component is missing or a non-directory has components below it.
    /// </summary>
    public async ValueTask<CatalogEntry?> LookupPathAsync(string path, CancellationToken ct = default)
    {
        var current = Root;
        foreach (var component in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!current.IsDirectory) return null;
            var next = await LookupAsync(current, System.Text.Encoding.UTF8.GetBytes(component), ct).ConfigureAwait(false);
            if (next is null) return null;
            current = next;
        }
        return current;
    }

    /// <summary>The entries of the directory at <paramref name="path"/> (see <see cref="LookupPathAsync"/>).</summary>
    public async ValueTask<IReadOnlyList<CatalogEntry>> ListDirectoryAsync(string path, CancellationToken ct = default)
    {
        var dir = await LookupPathAsync(path, ct).ConfigureAwait(false);
        if (dir is null) throw new BackupFsException($"catalog: no entry '{path}'");
        if (!dir.IsDirectory) throw new BackupFsException($"catalog: '{path}' is not a directory");
        return await ReadDirectoryAsync(dir, ct).ConfigureAwait(false);
    }

    /// <summary>Reads one table and hands its entries to <paramref name="onEntry"/> until it returns false.</summary>
    private async ValueTask ParseAsync(CatalogEntry directory, Func<CatalogEntry, bool> onEntry, CancellationToken ct)
    {
        if (!directory.IsDirectory) throw new ArgumentException("not a directory entry", nameof(directory));
        long start = directory.TableOffset, limit = directory.TableLimit;
        if (start < MagicLength || start >= limit)
            throw new FormatCorruptException($"catalog: directory table offset {start} lies outside {MagicLength}..{limit}");

        var head = new byte[(int)Math.Min(CatalogVarint.MaxU64Bytes, limit - start)];
        await ReadExactlyAsync(_source, start, head, ct).ConfigureAwait(false);
        int headPos = 0;
        ulong length = CatalogVarint.ReadU64(head, ref headPos);
        if (length < 1) throw new FormatCorruptException($"catalog: empty directory table at {start}");
        if (length > (ulong)_maxTableBytes)
            throw new FormatCorruptException($"catalog: directory table at {start} has {length} bytes (limit {_maxTableBytes})");
        long tableStart = start + headPos;
        if ((ulong)(limit - tableStart) < length)
            throw new FormatCorruptException($"catalog: directory table at {start} ({length} bytes) runs past {limit}");

        var table = new byte[(int)length];
        await ReadExactlyAsync(_source, tableStart, table, ct).ConfigureAwait(false);
        Parse(table, start, onEntry);
    }

    private void Parse(ReadOnlySpan<byte> table, long start, Func<CatalogEntry, bool> onEntry)
    {
        int pos = 0;
        ulong count = CatalogVarint.ReadU64(table, ref pos);
        // Every entry takes at least two bytes (type, name length), so a count beyond that is a lie.
        if (count > (ulong)_maxEntries || count > (ulong)(table.Length / 2))
            throw new FormatCorruptException($"catalog: directory table at {start} claims {count} entries in {table.Length} bytes (limit {_maxEntries})");
        for (ulong i = 0; i < count; i++)
        {
            if (pos >= table.Length) throw new FormatCorruptException($"catalog: directory table at {start} ends inside entry {i}");
            byte type = table[pos++];
            if (!CatalogEntry.IsKnownKind(type))
                throw new FormatCorruptException($"catalog: unknown entry type 0x{type:x2} in the directory table at {start}");
            ulong nameLength = CatalogVarint.ReadU64(table, ref pos);
            if (nameLength is 0 or > CatalogWriter.MaxNameLength || nameLength > (ulong)(table.Length - pos))
                throw new FormatCorruptException($"catalog: bad name length {nameLength} in the directory table at {start}");
            var name = table.Slice(pos, (int)nameLength).ToArray();
            pos += (int)nameLength;
            CheckName(name, start);
            var kind = (CatalogEntryKind)type;
            CatalogEntry entry;
            switch (kind)
            {
                case CatalogEntryKind.Directory:
                    ulong distance = CatalogVarint.ReadU64(table, ref pos);
                    // A child's table was written before its parent's: it starts after the magic and ends by our start.
                    if (distance == 0 || distance > (ulong)(start - MagicLength))
                        throw new FormatCorruptException($"catalog: directory '{Show(name)}' points {distance} bytes back from {start}, outside the catalog");
                    entry = new CatalogEntry(name, kind) { TableOffset = start - (long)distance, TableLimit = start };
                    break;
                case CatalogEntryKind.File:
                    ulong size = CatalogVarint.ReadU64(table, ref pos);
                    long mtime = CatalogVarint.ReadI64(table, ref pos);
                    entry = new CatalogEntry(name, kind, size, mtime);
                    break;
                default:
                    entry = new CatalogEntry(name, kind);
                    break;
            }
            if (!onEntry(entry)) return;
        }
        if (pos != table.Length)
            throw new FormatCorruptException($"catalog: {table.Length - pos} unparsed bytes after the entries of the directory table at {start}");
    }

    private static void CheckName(byte[] name, long start)
    {
        if (name.AsSpan().IndexOfAny((byte)'/', (byte)0) >= 0 || name is [(byte)'.'] or [(byte)'.', (byte)'.'])
            throw new FormatCorruptException($"catalog: invalid entry name '{Show(name)}' in the directory table at {start}");
    }

    private static string Show(byte[] name) => System.Text.Encoding.UTF8.GetString(name);

    private static async ValueTask ReadExactlyAsync(IRandomAccessSource source, long offset, byte[] buffer, CancellationToken ct)
    {
        int n = await source.ReadAtAsync(offset, buffer, ct).ConfigureAwait(false);
        if (n != buffer.Length)
            throw new FormatCorruptException($"catalog: truncated, {buffer.Length} bytes at {offset} but only {n} there");
    }
}
