using System.Buffers.Binary;
using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Reading;

namespace BackupFs.Datastore.Pxar;

/// <summary>
/// Random access to a pxar archive without decoding it whole: directories are listed and searched
/// through their goodbye tables, entries are parsed on demand. Works on a unified v1 archive, or a
/// v2 metadata stream plus its payload stream. Thread-safe (each call uses its own read window).
/// </summary>
public sealed class PxarAccessor
{
    private readonly IRandomAccessSource _metadata;
    private readonly IRandomAccessSource? _payload;
    /// <summary>
    /// Upper bound on children per directory (a 24 MiB goodbye table): the PBS client refuses to hold
    /// more than 1,048,576 entries in memory while it archives (its default --entries-max), since the
    /// format needs each directory's sorted table in memory. A larger table is refused as corrupt, so a
    /// tiny hostile index cannot make a listing cost gigabytes.
    /// </summary>
    public const int MaxDirectoryEntries = 1 << 20;
    /// <summary>Upper bound on the hardlink targets <see cref="CountHardlinksAsync"/> tracks (about 60 MiB of counts).</summary>
    public const int MaxHardlinkTargets = 1 << 21;
    private readonly GoodbyeCache _goodbyeCache = new(capacityItems: 1 << 16);
    private readonly long _preludeOffset;
    private readonly long _preludeLength;

    /// <summary>2 for split archives (FORMAT_VERSION item present), else 1.</summary>
    public int FormatVersion { get; }
    public PxarEntry Root { get; }

    private PxarAccessor(IRandomAccessSource metadata, IRandomAccessSource? payload, int version, long preludeOffset, long preludeLength, PxarEntry root)
    {
        _metadata = metadata;
        _payload = payload;
        FormatVersion = version;
        _preludeOffset = preludeOffset;
        _preludeLength = preludeLength;
        Root = root;
    }

    /// <summary>Opens an archive: reads the version/prelude items and the root entry, checks the payload stream's start marker.</summary>
    public static async ValueTask<PxarAccessor> OpenAsync(IRandomAccessSource metadata, IRandomAccessSource? payload = null, CancellationToken ct = default)
    {
        using var w = new SourceWindow(metadata);
        long pos = 0;
        int version = 1;
        long preludeOffset = -1, preludeLength = 0;
        var first = await w.HeaderAsync(0, ct).ConfigureAwait(false);
        if (first.Type == PxarFormat.FormatVersion)
        {
            if (first.ContentSize != 8) throw new FormatCorruptException("pxar: FORMAT_VERSION item has the wrong size");
            var v = BinaryPrimitives.ReadUInt64LittleEndian((await w.GetAsync(16, 8, ct).ConfigureAwait(false)).Span);
            if (v != 2) throw new FormatCorruptException($"pxar: unsupported format version {v}");
            version = 2;
            pos = 24;
            var next = await w.HeaderAsync(pos, ct).ConfigureAwait(false);
            if (next.Type == PxarFormat.Prelude)
            {
                preludeOffset = pos + PxarFormat.HeaderSize;
                preludeLength = next.ContentSize;
                pos += (long)next.FullSize;
            }
        }
        var root = await ParseEntryBodyAsync(w, pos, identity: pos, name: [], limit: metadata.Length, directoryEnd: metadata.Length, isRoot: true, payload, ct).ConfigureAwait(false);
        if (root.Kind != PxarEntryKind.Directory)
            throw new FormatCorruptException("pxar: the root entry is not a directory");

        if (version == 2)
        {
            if (payload == null) { /* metadata-only use (listing, stat) is allowed; content reads will fail clearly */ }
            else
            {
                using var pw = new SourceWindow(payload);
                var h = await pw.HeaderAsync(0, ct).ConfigureAwait(false);
                if (h.Type != PxarFormat.PayloadStartMarker || h.FullSize != PxarFormat.HeaderSize)
                    throw new FormatCorruptException("pxar: the payload stream does not start with PAYLOAD_START_MARKER");
            }
        }
        return new PxarAccessor(metadata, payload, version, preludeOffset, preludeLength, root);
    }

    /// <summary>The PRELUDE item's bytes (v2 only), or null.</summary>
    public async ValueTask<byte[]?> ReadPreludeAsync(CancellationToken ct = default)
    {
        if (_preludeOffset < 0) return null;
        if (_preludeLength > 16 << 20) throw new FormatCorruptException("pxar: prelude larger than 16 MiB");
        var bytes = new byte[_preludeLength];
        using var w = new SourceWindow(_metadata);
        (await w.GetAsync(_preludeOffset, bytes.Length, ct).ConfigureAwait(false)).CopyTo(bytes);
        return bytes;
    }

    /// <summary>The children of a directory, in archive (byte-wise name) order. Hardlinks are returned unresolved.</summary>
    public ValueTask<IReadOnlyList<PxarEntry>> ListDirectoryAsync(PxarEntry directory, CancellationToken ct = default) =>
        ListDirectoryAsync(directory, 0, int.MaxValue, ct);

    /// <summary>
    /// Children <paramref name="start"/> .. start+count−1 in archive order (for paged readdir of big
    /// directories); only those entries are parsed.
    /// </summary>
    public async ValueTask<IReadOnlyList<PxarEntry>> ListDirectoryAsync(PxarEntry directory, int start, int count, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var table = await GetGoodbyeAsync(directory, ct).ConfigureAwait(false);
        var order = table.ArchiveOrder;
        int end = (int)Math.Min(order.Length, (long)start + count);
        var result = new List<PxarEntry>(Math.Max(0, end - start));
        using var w = new SourceWindow(_metadata);
        // PBS writes children sorted by name bytes; a repeated or unsorted name is corrupt (or hostile).
        byte[]? previous = start > 0 && start < order.Length ? await ReadChildNameAsync(w, table.ChildOffset(order[start - 1]), ct).ConfigureAwait(false) : null;
        for (int k = start; k < end; k++)
        {
            var child = await ParseChildAsync(w, table, order[k], ct).ConfigureAwait(false);
            if (previous is not null && child.Name.AsSpan().SequenceCompareTo(previous) <= 0)
                throw new FormatCorruptException($"pxar: directory {directory} lists '{child.NameString}' twice or out of order");
            previous = child.Name;
            result.Add(child);
        }
        return result;
    }

    /// <summary>Number of children of a directory (from its goodbye table alone).</summary>
    public async ValueTask<int> CountChildrenAsync(PxarEntry directory, CancellationToken ct = default) =>
        (await GetGoodbyeAsync(directory, ct).ConfigureAwait(false)).Items.Length;

    /// <summary>Finds a child by raw name through the goodbye table's binary search tree; null when absent.</summary>
    public async ValueTask<PxarEntry?> LookupAsync(PxarEntry directory, ReadOnlyMemory<byte> name, CancellationToken ct = default)
    {
        if (!PxarFormat.IsValidFilename(name.Span)) return null;
        var table = await GetGoodbyeAsync(directory, ct).ConfigureAwait(false);
        var matches = new List<int>(1);
        GoodbyeTable.FindAll(table.Items, PxarFormat.HashFilename(name.Span), matches);
        if (matches.Count == 0) return null;
        using var w = new SourceWindow(_metadata);
        int found = -1;
        foreach (int i in matches)
        {
            // Compare the name first; only a real match is parsed fully (hash collisions are legal).
            long filenameOffset = table.ChildOffset(i);
            var header = await w.HeaderAsync(filenameOffset, ct).ConfigureAwait(false);
            if (header.Type != PxarFormat.Filename)
                throw new FormatCorruptException($"pxar: goodbye item points to offset {filenameOffset}, which is not a FILENAME");
            if (header.ContentSize != name.Length + 1) continue;
            var stored = await w.GetAsync(filenameOffset + PxarFormat.HeaderSize, name.Length, ct).ConfigureAwait(false);
            if (!stored.Span.SequenceEqual(name.Span)) continue;
            if (found >= 0)
                throw new FormatCorruptException($"pxar: directory {directory} holds the name '{Encoding.UTF8.GetString(name.Span)}' twice");
            found = i;
        }
        return found < 0 ? null : await ParseChildAsync(w, table, found, ct).ConfigureAwait(false);
    }

    public ValueTask<PxarEntry?> LookupAsync(PxarEntry directory, string name, CancellationToken ct = default) =>
        LookupAsync(directory, Encoding.UTF8.GetBytes(name), ct);

    /// <summary>Resolves a '/'-separated path below the root ("" or "/" = root); null when a component is missing.</summary>
    public async ValueTask<PxarEntry?> LookupPathAsync(string path, bool followFinalHardlink = true, CancellationToken ct = default)
    {
        var current = Root;
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (current.Kind != PxarEntryKind.Directory) return null;
            var next = await LookupAsync(current, part, ct).ConfigureAwait(false);
            if (next == null) return null;
            current = next;
        }
        return followFinalHardlink && current.Kind == PxarEntryKind.Hardlink ? await FollowHardlinkAsync(current, ct).ConfigureAwait(false) : current;
    }

    /// <summary>The regular file a hardlink entry points to (its Identity is the target's FILENAME offset); other entries are returned as they are.</summary>
    public async ValueTask<PxarEntry> FollowHardlinkAsync(PxarEntry entry, CancellationToken ct = default)
    {
        if (entry.Kind != PxarEntryKind.Hardlink) return entry;
        using var w = new SourceWindow(_metadata);
        var target = await ParseNamedEntryAsync(w, entry.HardlinkTargetIdentity, entry.Identity, 0, ct).ConfigureAwait(false);
        if (target.Kind != PxarEntryKind.File)
            throw new FormatCorruptException($"pxar: hardlink at offset {entry.Identity} points to a {target.Kind}, not a regular file");
        return target;
    }

    /// <summary>
    /// Hardlink target Identity → 1 + the HARDLINK entries pointing at it, from one linear pass over
    /// the item headers of the metadata stream: every item carries its full size, so file data is
    /// skipped unread, and a HARDLINK item directly follows the FILENAME its distance is measured from.
    /// </summary>
    public async ValueTask<Dictionary<long, int>> CountHardlinksAsync(CancellationToken ct = default)
    {
        var counts = new Dictionary<long, int>();
        using var w = new SourceWindow(_metadata, windowSize: 16 * 1024);
        long pos = 0, end = _metadata.Length, filename = -1;
        while (pos < end)
        {
            var h = await w.HeaderAsync(pos, ct).ConfigureAwait(false);
            if (h.Type == PxarFormat.Filename) filename = pos;
            else if (h.Type == PxarFormat.Hardlink)
            {
                if (h.ContentSize < 9 || filename < 0)
                    throw new FormatCorruptException($"pxar: bad HARDLINK item at offset {pos}");
                ulong distance = BinaryPrimitives.ReadUInt64LittleEndian((await w.GetAsync(pos + PxarFormat.HeaderSize, 8, ct).ConfigureAwait(false)).Span);
                if (distance == 0 || distance > (ulong)filename)
                    throw new FormatCorruptException($"pxar: hardlink at offset {filename} points outside the archive");
                long target = filename - (long)distance;
                // Bounded: a hostile stream (or an index repeating one chunk) could describe millions of
                // targets. Past the cap, further targets keep a count of 1 (the mount shows nlink 1; a
                // restore writes their names as separate copies).
                if (counts.TryGetValue(target, out int n)) counts[target] = n + 1;
                else if (counts.Count < MaxHardlinkTargets) counts[target] = 2;
            }
            pos += (long)h.FullSize;
        }
        return counts;
    }

    /// <summary>xattrs, ACLs, fcaps and quota project id of an entry (read on demand).</summary>
    public async ValueTask<PxarMetadata> ReadMetadataAsync(PxarEntry entry, CancellationToken ct = default)
    {
        var meta = new PxarMetadata();
        if (entry.Kind == PxarEntryKind.Hardlink) return meta;
        using var w = new SourceWindow(_metadata);
        var entryHeader = await w.HeaderAsync(entry.EntryOffset, ct).ConfigureAwait(false);
        for (long pos = entry.EntryOffset + (long)entryHeader.FullSize; pos < entry.MetadataEnd;)
        {
            var h = await w.HeaderAsync(pos, ct).ConfigureAwait(false);
            var c = (await w.GetAsync(pos + PxarFormat.HeaderSize, (int)h.ContentSize, ct).ConfigureAwait(false)).Span;
            PxarMetadataReader.Apply(meta, h, c, pos);
            pos += (long)h.FullSize;
        }
        return meta;
    }

    /// <summary>
    /// Reads file content at <paramref name="offset"/>; returns the bytes read (0 at or past the end of the file).
    /// In a split archive the PAYLOAD header the reference points to is checked first.
    /// </summary>
    public async ValueTask<int> ReadFileAsync(PxarEntry file, long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        var (source, dataStart, count) = await ContentSourceAsync(file, offset, buffer.Length, ct).ConfigureAwait(false);
        int done = 0;
        while (done < count)
        {
            int n = await source.ReadAtAsync(dataStart + offset + done, buffer.Slice(done, count - done), ct).ConfigureAwait(false);
            if (n <= 0) throw new FormatCorruptException($"pxar: file data of {file} is truncated at {offset + done}");
            done += n;
        }
        return done;
    }

    /// <summary>As <see cref="ReadFileAsync"/> for up to <paramref name="length"/> bytes, as slices of the archive's chunks where it has them.</summary>
    public async ValueTask<int> ReadFileSlicesAsync(PxarEntry file, long offset, int length, ReadSlices into, CancellationToken ct = default)
    {
        var (source, dataStart, count) = await ContentSourceAsync(file, offset, length, ct).ConfigureAwait(false);
        if (count == 0) return 0;
        int n = await source.ReadSlicesAsync(dataStart + offset, count, into, ct).ConfigureAwait(false);
        if (n != count) throw new FormatCorruptException($"pxar: file data of {file} is truncated at {offset + n}");
        return n;
    }

    /// <summary>The stream holding <paramref name="file"/>'s content, where the content starts in it, and
    /// how many bytes a read of <paramref name="length"/> at <paramref name="offset"/> gets.</summary>
    private async ValueTask<(IRandomAccessSource Source, long DataStart, int Count)> ContentSourceAsync(PxarEntry file, long offset, int length, CancellationToken ct)
    {
        if (file.Kind != PxarEntryKind.File)
            throw new ArgumentException($"{file} is not a regular file (follow hardlinks first)", nameof(file));
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset));
        if (offset >= file.Size || length <= 0) return (_metadata, 0, 0);
        int count = (int)Math.Min(length, file.Size - offset);
        if (!file.ContentInPayloadStream) return (_metadata, file.ContentOffset, count);
        var payload = _payload ?? throw new BackupFsException("pxar: this split archive was opened without its payload stream");
        await CheckPayloadHeaderAsync(file, payload, ct).ConfigureAwait(false);
        return (payload, file.ContentOffset + PxarFormat.HeaderSize, count);
    }

    /// <summary>Opens a read-only stream over a regular file's content.</summary>
    public Stream OpenFileStream(PxarEntry file) => new PxarFileStream(this, file);

    private static async ValueTask CheckPayloadHeaderAsync(PxarEntry file, IRandomAccessSource payload, CancellationToken ct)
    {
        if (file.PayloadHeaderChecked) return;
        if (file.ContentOffset < 0 || file.ContentOffset > payload.Length - PxarFormat.HeaderSize - file.Size)
            throw new FormatCorruptException($"pxar: payload reference of {file} (offset {file.ContentOffset}, size {file.Size}) is outside the payload stream ({payload.Length} bytes)");
        using var w = new SourceWindow(payload);
        var h = await w.HeaderAsync(file.ContentOffset, ct).ConfigureAwait(false);
        if (h.Type != PxarFormat.Payload || h.ContentSize != file.Size)
            throw new FormatCorruptException($"pxar: payload reference of {file} does not point to a PAYLOAD header of {file.Size} bytes");
        file.PayloadHeaderChecked = true;
    }

    private async ValueTask<ParsedGoodbye> GetGoodbyeAsync(PxarEntry directory, CancellationToken ct)
    {
        if (directory.Kind != PxarEntryKind.Directory)
            throw new ArgumentException($"{directory} is not a directory", nameof(directory));
        if (_goodbyeCache.TryGet(directory.DirectoryEnd, out var cached)) return cached;
        using var w = new SourceWindow(_metadata);
        long end = directory.DirectoryEnd;
        if (end - directory.MetadataEnd < PxarFormat.HeaderSize + PxarFormat.GoodbyeItemSize)
            throw new FormatCorruptException($"pxar: directory {directory} has no room for a goodbye table");
        var tail = GoodbyeItem.Read((await w.GetAsync(end - PxarFormat.GoodbyeItemSize, PxarFormat.GoodbyeItemSize, ct).ConfigureAwait(false)).Span);
        if (tail.Hash != PxarFormat.GoodbyeTailMarker)
            throw new FormatCorruptException($"pxar: goodbye table of {directory} lacks its tail marker");
        if (tail.Size < PxarFormat.HeaderSize + PxarFormat.GoodbyeItemSize || (tail.Size - PxarFormat.HeaderSize) % PxarFormat.GoodbyeItemSize != 0
            || tail.Size > (ulong)(end - directory.MetadataEnd))
            throw new FormatCorruptException($"pxar: goodbye table of {directory} has an invalid size {tail.Size}");
        long start = end - (long)tail.Size;
        long expectedTailOffset = directory.IsRoot ? start : start - directory.EntryOffset;
        if (tail.Offset != (ulong)expectedTailOffset)
            throw new FormatCorruptException($"pxar: goodbye tail of {directory} points to the wrong entry");
        var header = await w.HeaderAsync(start, ct).ConfigureAwait(false);
        if (header.Type != PxarFormat.Goodbye || header.FullSize != tail.Size)
            throw new FormatCorruptException($"pxar: no GOODBYE item at offset {start} for {directory}");
        ulong count = (tail.Size - PxarFormat.HeaderSize) / PxarFormat.GoodbyeItemSize - 1;
        if (count > MaxDirectoryEntries)
            throw new FormatCorruptException($"pxar: directory {directory} has a goodbye table of {count} entries; more than {MaxDirectoryEntries} (the PBS client's limit) is refused");
        int n = (int)count;
        var items = new GoodbyeItem[n];
        var raw = (await w.GetAsync(start + PxarFormat.HeaderSize, n * PxarFormat.GoodbyeItemSize, ct).ConfigureAwait(false)).Span;
        ulong minDistance = 2 * PxarFormat.HeaderSize; // a child is at least FILENAME + one more item
        ulong maxDistance = (ulong)(start - directory.MetadataEnd);
        for (int i = 0; i < n; i++)
        {
            var item = GoodbyeItem.Read(raw.Slice(i * PxarFormat.GoodbyeItemSize));
            if (item.Offset < minDistance || item.Offset > maxDistance)
                throw new FormatCorruptException($"pxar: goodbye item {i} of {directory} points outside the directory");
            items[i] = item;
        }
        var parsed = new ParsedGoodbye(start, items, directory.MetadataEnd);
        parsed.Validate(directory);
        _goodbyeCache.Add(end, parsed);
        return parsed;
    }

    /// <summary>Parses a directory's child, which must fill its slot exactly (from its offset up to the next child or the goodbye table) and match its record's hash.</summary>
    private async ValueTask<PxarEntry> ParseChildAsync(SourceWindow w, ParsedGoodbye table, int index, CancellationToken ct)
    {
        var entry = await ParseNamedEntryAsync(w, table.ChildOffset(index), table.ChildEnd(index), table.Items[index].Size, ct, exactEnd: true).ConfigureAwait(false);
        // A record whose hash is not its child's name would list a name that lookups cannot find.
        if (PxarFormat.HashFilename(entry.Name) != table.Items[index].Hash)
            throw new FormatCorruptException($"pxar: the goodbye record of '{entry.NameString}' at offset {entry.Identity} has the hash of another name");
        return entry;
    }

    /// <summary>The raw name in the FILENAME item at <paramref name="filenameOffset"/>.</summary>
    private static async ValueTask<byte[]> ReadChildNameAsync(SourceWindow w, long filenameOffset, CancellationToken ct)
    {
        var h = await w.HeaderAsync(filenameOffset, ct).ConfigureAwait(false);
        if (h.Type != PxarFormat.Filename || h.ContentSize < 2 || h.ContentSize > PxarFormat.MaxPathLength + 1)
            throw new FormatCorruptException($"pxar: expected FILENAME at offset {filenameOffset}");
        return (await w.GetAsync(filenameOffset + PxarFormat.HeaderSize, (int)h.ContentSize - 1, ct).ConfigureAwait(false)).ToArray();
    }

    /// <summary>Parses FILENAME + (HARDLINK | ENTRY…) at <paramref name="filenameOffset"/>; items must end before <paramref name="limit"/>.</summary>
    private async ValueTask<PxarEntry> ParseNamedEntryAsync(SourceWindow w, long filenameOffset, long limit, ulong goodbyeSize, CancellationToken ct, bool exactEnd = false)
    {
        var h = await w.HeaderAsync(filenameOffset, ct).ConfigureAwait(false);
        if (h.Type != PxarFormat.Filename)
            throw new FormatCorruptException($"pxar: expected FILENAME at offset {filenameOffset}");
        if (h.ContentSize < 2 || filenameOffset + (long)h.FullSize > limit)
            throw new FormatCorruptException($"pxar: bad FILENAME item at offset {filenameOffset}");
        var raw = (await w.GetAsync(filenameOffset + PxarFormat.HeaderSize, (int)h.ContentSize, ct).ConfigureAwait(false)).Span;
        if (raw[^1] != 0 || !PxarFormat.IsValidFilename(raw[..^1]))
            throw new FormatCorruptException($"pxar: invalid file name at offset {filenameOffset}: '{Encoding.UTF8.GetString(raw.TrimEnd((byte)0))}'");
        var name = raw[..^1].ToArray();
        long pos = filenameOffset + (long)h.FullSize;

        var next = await w.HeaderAsync(pos, ct).ConfigureAwait(false);
        if (next.Type == PxarFormat.Hardlink)
        {
            if (next.ContentSize < 9 || pos + (long)next.FullSize > limit)
                throw new FormatCorruptException($"pxar: bad HARDLINK item at offset {pos}");
            var c = (await w.GetAsync(pos + PxarFormat.HeaderSize, (int)next.ContentSize, ct).ConfigureAwait(false)).Span;
            ulong distance = BinaryPrimitives.ReadUInt64LittleEndian(c);
            if (distance == 0 || distance > (ulong)filenameOffset || c[^1] != 0)
                throw new FormatCorruptException($"pxar: hardlink at offset {filenameOffset} points outside the archive");
            if (exactEnd && pos + (long)next.FullSize != limit)
                throw new FormatCorruptException($"pxar: the goodbye table's extent of the entry at offset {filenameOffset} disagrees with its items");
            return new PxarEntry
            {
                Identity = filenameOffset, Name = name, Kind = PxarEntryKind.Hardlink,
                HardlinkTargetIdentity = filenameOffset - (long)distance, LinkTarget = c[8..^1].ToArray(),
                EntryOffset = pos, MetadataEnd = pos + (long)next.FullSize, ItemsEnd = pos + (long)next.FullSize,
            };
        }
        long directoryEnd = filenameOffset + (long)Math.Min(goodbyeSize, (ulong)long.MaxValue / 2);
        var entry = await ParseEntryBodyAsync(w, pos, filenameOffset, name, limit, directoryEnd, isRoot: false, _payload, ct).ConfigureAwait(false);
        // Children tile their directory: each one ends where the next begins. A goodbye table whose
        // items overlap, leave gaps or disagree with the entries' sizes is corrupt (or hostile).
        if (exactEnd && (entry.Kind == PxarEntryKind.Directory ? entry.DirectoryEnd : entry.ItemsEnd) != limit)
            throw new FormatCorruptException($"pxar: the goodbye table's extent of '{entry.NameString}' at offset {filenameOffset} disagrees with its items");
        return entry;
    }

    /// <summary>Parses ENTRY, metadata items and the kind-specific content item starting at <paramref name="entryOffset"/>.</summary>
    private static async ValueTask<PxarEntry> ParseEntryBodyAsync(SourceWindow w, long entryOffset, long identity, byte[] name,
        long limit, long directoryEnd, bool isRoot, IRandomAccessSource? payload, CancellationToken ct)
    {
        var h = await w.HeaderAsync(entryOffset, ct).ConfigureAwait(false);
        PxarStat stat;
        if (h.Type == PxarFormat.Entry && h.ContentSize == PxarFormat.StatSize)
            stat = PxarStat.Read((await w.GetAsync(entryOffset + PxarFormat.HeaderSize, PxarFormat.StatSize, ct).ConfigureAwait(false)).Span);
        else if (h.Type == PxarFormat.EntryV1 && h.ContentSize == PxarFormat.StatV1Size)
            stat = PxarStat.ReadV1((await w.GetAsync(entryOffset + PxarFormat.HeaderSize, PxarFormat.StatV1Size, ct).ConfigureAwait(false)).Span);
        else
            throw new FormatCorruptException($"pxar: expected ENTRY at offset {entryOffset}");
        if (stat.MtimeNanoseconds >= 1_000_000_000)
            throw new FormatCorruptException($"pxar: entry at offset {entryOffset} has nanoseconds {stat.MtimeNanoseconds} ≥ 1e9");
        var kind = stat.Kind;
        if (kind == PxarEntryKind.Unknown)
            throw new FormatCorruptException($"pxar: entry at offset {entryOffset} has an unknown file type (mode {Convert.ToString((long)stat.Mode, 8)})");

        long pos = entryOffset + (long)h.FullSize;
        while (pos < limit)
        {
            var m = await w.HeaderAsync(pos, ct).ConfigureAwait(false);
            if (!PxarMetadataReader.IsMetadataItem(m.Type)) break;
            pos += (long)m.FullSize;
        }
        if (pos > limit) throw new FormatCorruptException($"pxar: metadata of entry at offset {entryOffset} runs past its directory");
        long metadataEnd = pos;

        long size = 0, contentOffset = 0, dirEnd = 0, itemsEnd = metadataEnd;
        bool inPayload = false;
        byte[]? target = null;
        ulong major = 0, minor = 0;
        switch (kind)
        {
            case PxarEntryKind.File:
            {
                var c = await ExpectItemAsync(w, pos, limit, entryOffset, "PAYLOAD or PAYLOAD_REF", ct, PxarFormat.Payload, PxarFormat.PayloadRef).ConfigureAwait(false);
                itemsEnd = pos + (long)c.FullSize;
                if (c.Type == PxarFormat.Payload)
                {
                    size = c.ContentSize;
                    contentOffset = pos + PxarFormat.HeaderSize;
                }
                else
                {
                    if (c.ContentSize != 16) throw new FormatCorruptException($"pxar: PAYLOAD_REF at offset {pos} has the wrong size");
                    var r = (await w.GetAsync(pos + PxarFormat.HeaderSize, 16, ct).ConfigureAwait(false)).Span;
                    ulong refOffset = BinaryPrimitives.ReadUInt64LittleEndian(r), refSize = BinaryPrimitives.ReadUInt64LittleEndian(r[8..]);
                    if (refOffset > long.MaxValue / 2 || refSize > long.MaxValue / 2
                        || (payload != null && (long)refOffset + PxarFormat.HeaderSize + (long)refSize > payload.Length))
                        throw new FormatCorruptException($"pxar: payload reference at offset {pos} (offset {refOffset}, size {refSize}) is out of range");
                    size = (long)refSize;
                    contentOffset = (long)refOffset;
                    inPayload = true;
                }
                break;
            }
            case PxarEntryKind.Symlink:
            {
                var c = await ExpectItemAsync(w, pos, limit, entryOffset, "SYMLINK", ct, PxarFormat.Symlink).ConfigureAwait(false);
                itemsEnd = pos + (long)c.FullSize;
                var t = (await w.GetAsync(pos + PxarFormat.HeaderSize, (int)c.ContentSize, ct).ConfigureAwait(false)).Span;
                if (t.Length < 2 || t[^1] != 0 || t[..^1].IndexOf((byte)0) >= 0)
                    throw new FormatCorruptException($"pxar: symlink target at offset {pos} is empty, not NUL-terminated or holds a NUL byte");
                target = t[..^1].ToArray();
                size = target.Length;
                break;
            }
            case PxarEntryKind.BlockDevice or PxarEntryKind.CharDevice:
            {
                var c = await ExpectItemAsync(w, pos, limit, entryOffset, "DEVICE", ct, PxarFormat.Device).ConfigureAwait(false);
                itemsEnd = pos + (long)c.FullSize;
                if (c.ContentSize != 16) throw new FormatCorruptException($"pxar: DEVICE at offset {pos} has the wrong size");
                var d = (await w.GetAsync(pos + PxarFormat.HeaderSize, 16, ct).ConfigureAwait(false)).Span;
                major = BinaryPrimitives.ReadUInt64LittleEndian(d);
                minor = BinaryPrimitives.ReadUInt64LittleEndian(d[8..]);
                break;
            }
            case PxarEntryKind.Directory:
                if (directoryEnd > limit || directoryEnd < metadataEnd + PxarFormat.HeaderSize + PxarFormat.GoodbyeItemSize)
                    throw new FormatCorruptException($"pxar: directory at offset {identity} has an invalid extent");
                dirEnd = directoryEnd;
                break;
        }
        return new PxarEntry
        {
            Identity = identity, Name = name, Kind = kind, Stat = stat, Size = size, LinkTarget = target,
            DeviceMajor = major, DeviceMinor = minor, EntryOffset = entryOffset, MetadataEnd = metadataEnd,
            ContentOffset = contentOffset, ContentInPayloadStream = inPayload, DirectoryEnd = dirEnd, IsRoot = isRoot, ItemsEnd = itemsEnd,
        };
    }

    private static async ValueTask<PxarHeader> ExpectItemAsync(SourceWindow w, long pos, long limit, long entryOffset, string what, CancellationToken ct, ulong type, ulong alternative = 0)
    {
        if (pos >= limit) throw new FormatCorruptException($"pxar: entry at offset {entryOffset} lacks its {what} item");
        var h = await w.HeaderAsync(pos, ct).ConfigureAwait(false);
        if (h.Type != type && (alternative == 0 || h.Type != alternative))
            throw new FormatCorruptException($"pxar: entry at offset {entryOffset}: expected {what} at offset {pos}");
        if (pos + (long)h.FullSize > limit)
            throw new FormatCorruptException($"pxar: {what} item at offset {pos} runs past its directory");
        return h;
    }

    /// <summary>A directory's goodbye items (tree order) and where its GOODBYE header sits.</summary>
    internal sealed record ParsedGoodbye(long Start, GoodbyeItem[] Items, long FirstChildOffset)
    {
        private int[]? _archiveOrder;
        private long[]? _childEnd;

        public long ChildOffset(int i) => Start - (long)Items[i].Offset;

        /// <summary>Where item <paramref name="i"/>'s child must end: the next child's offset, or the GOODBYE item for the last.</summary>
        public long ChildEnd(int i) => _childEnd![i];

        /// <summary>Item indices sorted by archive position (= name order).</summary>
        public int[] ArchiveOrder => _archiveOrder!;

        /// <summary>
        /// Checks that the items describe children tiling the directory: the first starts right after the
        /// directory's own metadata, no two start at the same offset (several items pointing at one child
        /// would list it many times). Each child's own extent is checked against <see cref="ChildEnd"/> when parsed.
        /// </summary>
        public void Validate(PxarEntry directory)
        {
            var order = new int[Items.Length];
            for (int i = 0; i < order.Length; i++) order[i] = i;
            var items = Items;
            Array.Sort(order, (a, b) => items[b].Offset.CompareTo(items[a].Offset)); // larger distance = earlier
            var ends = new long[Items.Length];
            long expectedFirst = order.Length > 0 ? ChildOffset(order[0]) : Start;
            if (expectedFirst != FirstChildOffset)
                throw new FormatCorruptException($"pxar: the goodbye table of {directory} does not start at its first child (offset {expectedFirst}, expected {FirstChildOffset})");
            for (int k = 0; k < order.Length; k++)
            {
                long next = k + 1 < order.Length ? ChildOffset(order[k + 1]) : Start;
                if (next <= ChildOffset(order[k]))
                    throw new FormatCorruptException($"pxar: the goodbye table of {directory} has several items for the child at offset {next}");
                ends[order[k]] = next;
            }
            _archiveOrder = order;
            _childEnd = ends;
        }
    }
}
