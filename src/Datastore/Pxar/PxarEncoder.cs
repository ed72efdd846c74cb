using System.Buffers;
using System.Buffers.Binary;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Pxar;

/// <summary>
/// Writes a pxar archive sequentially: unified v1 (one stream), or split v2 (metadata stream with
/// FORMAT_VERSION = 2 and PAYLOAD_REFs, plus a payload stream framed by start/tail markers).
/// Children of a directory must be added in strictly ascending byte-wise name order (checked).
/// Goodbye tables are written as PBS writes them, including its size quirk for streamed files.
/// The streams are not disposed; call <see cref="FinishAsync"/> once at the end.
/// </summary>
public sealed class PxarEncoder : IDisposable
{
    private readonly PositionedWriter _archive;
    private readonly PositionedWriter? _payload;
    private readonly Action<long>? _beforeFilePayload;
    private readonly Catalog.CatalogWriter? _catalog;
    private readonly Stack<DirectoryState> _directories = new();
    private bool _finished;

    private sealed class DirectoryState
    {
        public long EntryOffset;
        public long FilenameOffset;
        public ulong NameHash;
        public byte[]? LastChildName;
        public readonly List<GoodbyeItem> Items = [];
    }

    private PxarEncoder(Stream archive, PxarEncoderOptions options)
    {
        _archive = new PositionedWriter(archive);
        _payload = options.PayloadOutput is { } p ? new PositionedWriter(p) : null;
        _beforeFilePayload = options.BeforeFilePayload;
        _catalog = options.Catalog;
    }

    /// <summary>2 when a payload stream was given, else 1.</summary>
    public int FormatVersion => _payload != null ? 2 : 1;
    /// <summary>Bytes written to the archive (metadata) stream so far.</summary>
    public long Position => _archive.Position;
    /// <summary>Current payload stream position (v2), including bytes added by <see cref="AdvancePayloadPosition"/>.</summary>
    public long PayloadPosition => _payload?.Position ?? throw new InvalidOperationException("not a split archive");

    /// <summary>Starts an archive: version/prelude items (v2), the payload start marker, and the root directory entry.</summary>
    public static async ValueTask<PxarEncoder> CreateAsync(Stream archive, PxarStat rootStat, PxarMetadata? rootMetadata = null,
        PxarEncoderOptions? options = null, CancellationToken ct = default)
    {
        options ??= new PxarEncoderOptions();
        if (rootStat.Kind != PxarEntryKind.Directory) throw new ArgumentException("the root must be a directory", nameof(rootStat));
        if (options.Prelude != null && options.PayloadOutput == null) throw new ArgumentException("a prelude needs a split (v2) archive", nameof(options));
        var encoder = new PxarEncoder(archive, options);
        if (encoder._payload != null)
        {
            var v = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(v, 2);
            await encoder._archive.WriteItemAsync(PxarFormat.FormatVersion, v, ct).ConfigureAwait(false);
            if (options.Prelude is { } prelude) await encoder._archive.WriteItemAsync(PxarFormat.Prelude, prelude, ct).ConfigureAwait(false);
            await encoder._payload.WriteItemAsync(PxarFormat.PayloadStartMarker, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
        }
        // The root's goodbye tail refers to archive offset 0 (even in v2, where FORMAT_VERSION sits there).
        encoder._directories.Push(new DirectoryState { EntryOffset = 0 });
        await encoder.WriteEntryAsync(rootStat, rootMetadata, ct).ConfigureAwait(false);
        return encoder;
    }

    /// <summary>Starts a sub-directory of the current directory; finish it with <see cref="EndDirectoryAsync"/>.</summary>
    public async ValueTask BeginDirectoryAsync(ReadOnlyMemory<byte> name, PxarStat stat, PxarMetadata? metadata = null, CancellationToken ct = default)
    {
        RequireKind(stat, PxarEntryKind.Directory);
        var parent = CheckChildName(name.Span);
        long filenameOffset = await WriteFilenameAsync(name, ct).ConfigureAwait(false);
        var dir = new DirectoryState { FilenameOffset = filenameOffset, EntryOffset = _archive.Position, NameHash = PxarFormat.HashFilename(name.Span) };
        _catalog?.StartDirectory(name.Span);
        parent.LastChildName = name.ToArray();
        _directories.Push(dir);
        await WriteEntryAsync(stat, metadata, ct).ConfigureAwait(false);
    }

    /// <summary>Writes the current directory's goodbye table and returns to its parent.</summary>
    public async ValueTask EndDirectoryAsync(CancellationToken ct = default)
    {
        CheckOpen();
        if (_directories.Count < 2) throw new InvalidOperationException("no sub-directory is open (the root is closed by FinishAsync)");
        var dir = _directories.Pop();
        await WriteGoodbyeAsync(dir, ct).ConfigureAwait(false);
        _directories.Peek().Items.Add(new GoodbyeItem(dir.NameHash, (ulong)dir.FilenameOffset, (ulong)(_archive.Position - dir.FilenameOffset)));
        _catalog?.EndDirectory();
    }

    /// <summary>
    /// Adds a regular file whose <paramref name="size"/> bytes come from <paramref name="content"/>
    /// (PAYLOAD in v1; PAYLOAD header + data in the payload stream and a PAYLOAD_REF in v2).
    /// Returns the FILENAME offset, usable as a hardlink target.
    /// </summary>
    public async ValueTask<long> AddFileAsync(ReadOnlyMemory<byte> name, PxarStat stat, PxarMetadata? metadata, Stream content, long size, CancellationToken ct = default)
    {
        RequireKind(stat, PxarEntryKind.File);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var dir = CheckChildName(name.Span);
        _catalog?.AddFile(name.Span, (ulong)size, stat.MtimeSeconds);
        long filenameOffset = await WriteFilenameAsync(name, ct).ConfigureAwait(false);
        await WriteEntryAsync(stat, metadata, ct).ConfigureAwait(false);
        PositionedWriter dataOut;
        if (_payload != null)
        {
            await _payload.FlushBufferAsync(ct).ConfigureAwait(false);
            long payloadHeaderOffset = _payload.Position;
            _beforeFilePayload?.Invoke(payloadHeaderOffset);
            var h = await _payload.ReserveAsync(PxarFormat.HeaderSize, ct).ConfigureAwait(false);
            PxarHeader.ForContent(PxarFormat.Payload, size).Write(h.Span);
            await WritePayloadRefAsync(payloadHeaderOffset, size, ct).ConfigureAwait(false);
            dataOut = _payload;
        }
        else
        {
            await _archive.FlushBufferAsync(ct).ConfigureAwait(false);
            _beforeFilePayload?.Invoke(_archive.Position);
            var h = await _archive.ReserveAsync(PxarFormat.HeaderSize, ct).ConfigureAwait(false);
            PxarHeader.ForContent(PxarFormat.Payload, size).Write(h.Span);
            dataOut = _archive;
        }
        // PBS records file_size + metadata bytes (FILENAME up to the end of PAYLOAD header / PAYLOAD_REF item),
        // also in split archives where the data is not in this stream.
        long metaSize = _archive.Position - filenameOffset;
        await CopyExactlyAsync(content, dataOut, size, ct).ConfigureAwait(false);
        dir.Items.Add(new GoodbyeItem(PxarFormat.HashFilename(name.Span), (ulong)filenameOffset, (ulong)(size + metaSize)));
        dir.LastChildName = name.ToArray();
        return filenameOffset;
    }

    /// <summary>
    /// v2 only: adds a regular file whose PAYLOAD item already exists at <paramref name="payloadOffset"/>
    /// (its header's offset) in the payload stream, e.g. in chunks reused from a previous snapshot.
    /// Nothing is copied. The offset may not lie before the current payload position.
    /// </summary>
    public async ValueTask<long> AddPayloadReferenceAsync(ReadOnlyMemory<byte> name, PxarStat stat, PxarMetadata? metadata, long payloadOffset, long size, CancellationToken ct = default)
    {
        if (_payload == null) throw new InvalidOperationException("payload references need a split (v2) archive");
        RequireKind(stat, PxarEntryKind.File);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (payloadOffset < _payload.Position)
            throw new ArgumentOutOfRangeException(nameof(payloadOffset), $"payload offset {payloadOffset} lies before the current payload position {_payload.Position}");
        var dir = CheckChildName(name.Span);
        _catalog?.AddFile(name.Span, (ulong)size, stat.MtimeSeconds);
        long filenameOffset = await WriteFilenameAsync(name, ct).ConfigureAwait(false);
        await WriteEntryAsync(stat, metadata, ct).ConfigureAwait(false);
        await WritePayloadRefAsync(payloadOffset, size, ct).ConfigureAwait(false);
        AddExtent(dir, name.Span, filenameOffset);
        return filenameOffset;
    }

    /// <summary>v2: counts <paramref name="bytes"/> written to the payload stream outside this encoder (injected reused chunks).</summary>
    public void AdvancePayloadPosition(long bytes)
    {
        if (_payload == null) throw new InvalidOperationException("not a split archive");
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        _payload.Advance(bytes);
    }

    /// <summary>Flushes buffered payload bytes, so the payload Stream's own length equals the bytes written by this encoder.</summary>
    public ValueTask FlushPayloadAsync(CancellationToken ct = default) => _payload?.FlushBufferAsync(ct) ?? ValueTask.CompletedTask;

    public async ValueTask AddSymlinkAsync(ReadOnlyMemory<byte> name, PxarStat stat, PxarMetadata? metadata, ReadOnlyMemory<byte> target, CancellationToken ct = default)
    {
        RequireKind(stat, PxarEntryKind.Symlink);
        if (target.Length == 0 || target.Length > PxarFormat.MaxPathLength || target.Span.IndexOf((byte)0) >= 0)
            throw new ArgumentException("symlink target must be 1..4096 bytes without NUL", nameof(target));
        var dir = CheckChildName(name.Span);
        _catalog?.AddSymlink(name.Span);
        long filenameOffset = await WriteFilenameAsync(name, ct).ConfigureAwait(false);
        await WriteEntryAsync(stat, metadata, ct).ConfigureAwait(false);
        await WriteNulTerminatedAsync(PxarFormat.Symlink, ReadOnlyMemory<byte>.Empty, target, ct).ConfigureAwait(false);
        AddExtent(dir, name.Span, filenameOffset);
    }

    public async ValueTask AddDeviceAsync(ReadOnlyMemory<byte> name, PxarStat stat, PxarMetadata? metadata, ulong major, ulong minor, CancellationToken ct = default)
    {
        if (stat.Kind is not (PxarEntryKind.BlockDevice or PxarEntryKind.CharDevice)) throw new ArgumentException("mode is not a device", nameof(stat));
        var dir = CheckChildName(name.Span);
        if (stat.Kind == PxarEntryKind.BlockDevice) _catalog?.AddBlockDevice(name.Span); else _catalog?.AddCharDevice(name.Span);
        long filenameOffset = await WriteFilenameAsync(name, ct).ConfigureAwait(false);
        await WriteEntryAsync(stat, metadata, ct).ConfigureAwait(false);
        var d = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(d, major);
        BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(8), minor);
        await _archive.WriteItemAsync(PxarFormat.Device, d, ct).ConfigureAwait(false);
        AddExtent(dir, name.Span, filenameOffset);
    }

    /// <summary>Adds a fifo or socket (ENTRY and metadata only).</summary>
    public async ValueTask AddSpecialAsync(ReadOnlyMemory<byte> name, PxarStat stat, PxarMetadata? metadata, CancellationToken ct = default)
    {
        if (stat.Kind is not (PxarEntryKind.Fifo or PxarEntryKind.Socket)) throw new ArgumentException("mode is not a fifo or socket", nameof(stat));
        var dir = CheckChildName(name.Span);
        if (stat.Kind == PxarEntryKind.Fifo) _catalog?.AddFifo(name.Span); else _catalog?.AddSocket(name.Span);
        long filenameOffset = await WriteFilenameAsync(name, ct).ConfigureAwait(false);
        await WriteEntryAsync(stat, metadata, ct).ConfigureAwait(false);
        AddExtent(dir, name.Span, filenameOffset);
    }

    /// <summary>
    /// Adds a hardlink to a file added earlier: <paramref name="targetOffset"/> is what AddFileAsync /
    /// AddPayloadReferenceAsync returned, <paramref name="targetPath"/> the target's archive-relative path (informational).
    /// </summary>
    public async ValueTask AddHardlinkAsync(ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> targetPath, long targetOffset, CancellationToken ct = default)
    {
        var dir = CheckChildName(name.Span);
        if (targetOffset <= 0 || targetOffset >= _archive.Position) throw new ArgumentOutOfRangeException(nameof(targetOffset), "a hardlink can only point to an earlier file");
        if (targetPath.Span.IndexOf((byte)0) >= 0 || targetPath.Length > PxarFormat.MaxPathLength) throw new ArgumentException("bad hardlink target path", nameof(targetPath));
        _catalog?.AddHardlink(name.Span);
        long filenameOffset = await WriteFilenameAsync(name, ct).ConfigureAwait(false);
        var distance = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(distance, (ulong)(filenameOffset - targetOffset));
        await WriteNulTerminatedAsync(PxarFormat.Hardlink, distance, targetPath, ct).ConfigureAwait(false);
        AddExtent(dir, name.Span, filenameOffset);
    }

    /// <summary>Closes the root directory, writes the payload tail marker (v2) and flushes both streams.</summary>
    public async ValueTask FinishAsync(CancellationToken ct = default)
    {
        CheckOpen();
        if (_directories.Count != 1) throw new InvalidOperationException($"{_directories.Count - 1} sub-directories are still open");
        await WriteGoodbyeAsync(_directories.Pop(), ct).ConfigureAwait(false);
        if (_payload != null)
        {
            await _payload.WriteItemAsync(PxarFormat.PayloadTailMarker, ReadOnlyMemory<byte>.Empty, ct).ConfigureAwait(false);
            await _payload.FlushAsync(ct).ConfigureAwait(false);
        }
        await _archive.FlushAsync(ct).ConfigureAwait(false);
        _finished = true;
    }

    private void AddExtent(DirectoryState dir, ReadOnlySpan<byte> name, long filenameOffset)
    {
        dir.Items.Add(new GoodbyeItem(PxarFormat.HashFilename(name), (ulong)filenameOffset, (ulong)(_archive.Position - filenameOffset)));
        dir.LastChildName = name.ToArray();
    }

    private async ValueTask WriteGoodbyeAsync(DirectoryState dir, CancellationToken ct)
    {
        long goodbyeOffset = _archive.Position;
        var table = GoodbyeTable.Build(dir.Items, goodbyeOffset, dir.EntryOffset);
        await _archive.WriteItemAsync(PxarFormat.Goodbye, table, ct).ConfigureAwait(false);
    }

    private async ValueTask WritePayloadRefAsync(long offset, long size, CancellationToken ct)
    {
        var r = await _archive.ReserveAsync(PxarFormat.HeaderSize + 16, ct).ConfigureAwait(false);
        PxarHeader.ForContent(PxarFormat.PayloadRef, 16).Write(r.Span);
        BinaryPrimitives.WriteUInt64LittleEndian(r.Span[16..], (ulong)offset);
        BinaryPrimitives.WriteUInt64LittleEndian(r.Span[24..], (ulong)size);
    }

    private async ValueTask<long> WriteFilenameAsync(ReadOnlyMemory<byte> name, CancellationToken ct)
    {
        long offset = _archive.Position;
        await WriteNulTerminatedAsync(PxarFormat.Filename, ReadOnlyMemory<byte>.Empty, name, ct).ConfigureAwait(false);
        return offset;
    }

    private async ValueTask WriteNulTerminatedAsync(ulong type, ReadOnlyMemory<byte> prefix, ReadOnlyMemory<byte> text, CancellationToken ct)
    {
        var h = await _archive.ReserveAsync(PxarFormat.HeaderSize, ct).ConfigureAwait(false);
        PxarHeader.ForContent(type, prefix.Length + text.Length + 1).Write(h.Span);
        await _archive.WriteAsync(prefix, ct).ConfigureAwait(false);
        await _archive.WriteAsync(text, ct).ConfigureAwait(false);
        (await _archive.ReserveAsync(1, ct).ConfigureAwait(false)).Span[0] = 0;
    }

    private async ValueTask WriteEntryAsync(PxarStat stat, PxarMetadata? meta, CancellationToken ct)
    {
        var e = await _archive.ReserveAsync(PxarFormat.HeaderSize + PxarFormat.StatSize, ct).ConfigureAwait(false);
        PxarHeader.ForContent(PxarFormat.Entry, PxarFormat.StatSize).Write(e.Span);
        stat.Write(e.Span[PxarFormat.HeaderSize..]);
        if (meta == null) return;
        foreach (var x in meta.Xattrs)
        {
            if (x.Name.Length == 0 || x.Name.AsSpan().IndexOf((byte)0) >= 0 || x.Name.Length + 1 + x.Value.Length > PxarFormat.MaxXattrContent)
                throw new ArgumentException("invalid xattr name or size", nameof(meta));
            var h = await _archive.ReserveAsync(PxarFormat.HeaderSize, ct).ConfigureAwait(false);
            PxarHeader.ForContent(PxarFormat.Xattr, x.Name.Length + 1 + x.Value.Length).Write(h.Span);
            await _archive.WriteAsync(x.Name, ct).ConfigureAwait(false);
            (await _archive.ReserveAsync(1, ct).ConfigureAwait(false)).Span[0] = 0;
            await _archive.WriteAsync(x.Value, ct).ConfigureAwait(false);
        }
        var acl = meta.Acl;
        foreach (var a in acl.Users) await WritePairAsync(PxarFormat.AclUser, a, ct).ConfigureAwait(false);
        foreach (var a in acl.Groups) await WritePairAsync(PxarFormat.AclGroup, a, ct).ConfigureAwait(false);
        if (acl.GroupObj is { } go) await WriteU64sAsync(PxarFormat.AclGroupObj, ct, go).ConfigureAwait(false);
        if (acl.Default is { } d) await WriteU64sAsync(PxarFormat.AclDefault, ct, d.UserObj, d.GroupObj, d.Other, d.Mask).ConfigureAwait(false);
        foreach (var a in acl.DefaultUsers) await WritePairAsync(PxarFormat.AclDefaultUser, a, ct).ConfigureAwait(false);
        foreach (var a in acl.DefaultGroups) await WritePairAsync(PxarFormat.AclDefaultGroup, a, ct).ConfigureAwait(false);
        if (meta.Fcaps is { } fcaps)
        {
            if (fcaps.Length > PxarFormat.MaxXattrContent) throw new ArgumentException("fcaps too large", nameof(meta));
            await _archive.WriteItemAsync(PxarFormat.Fcaps, fcaps, ct).ConfigureAwait(false);
        }
        if (meta.QuotaProjectId is { } q) await WriteU64sAsync(PxarFormat.QuotaProjectId, ct, q).ConfigureAwait(false);
    }

    private ValueTask WritePairAsync(ulong type, PxarAclEntry a, CancellationToken ct) => WriteU64sAsync(type, ct, a.Id, a.Permissions);

    private async ValueTask WriteU64sAsync(ulong type, CancellationToken ct, params ulong[] values)
    {
        var m = await _archive.ReserveAsync(PxarFormat.HeaderSize + 8 * values.Length, ct).ConfigureAwait(false);
        PxarHeader.ForContent(type, 8 * values.Length).Write(m.Span);
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(m.Span[(16 + 8 * i)..], values[i]);
    }

    private static async ValueTask CopyExactlyAsync(Stream content, PositionedWriter output, long size, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long left = size;
            while (left > 0)
            {
                int n = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
                if (n <= 0) throw new IOException($"file content ended {left} bytes early (the file shrank while it was archived)");
                await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                left -= n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    private DirectoryState CheckChildName(ReadOnlySpan<byte> name)
    {
        CheckOpen();
        if (!PxarFormat.IsValidFilename(name)) throw new InvalidNameException($"invalid pxar file name '{System.Text.Encoding.UTF8.GetString(name)}'");
        var dir = _directories.Peek();
        if (dir.LastChildName != null && name.SequenceCompareTo(dir.LastChildName) <= 0)
            throw new InvalidOperationException($"children must be added in ascending byte order: '{System.Text.Encoding.UTF8.GetString(name)}' after '{System.Text.Encoding.UTF8.GetString(dir.LastChildName)}'");
        return dir;
    }

    private static void RequireKind(PxarStat stat, PxarEntryKind kind)
    {
        if (stat.Kind != kind) throw new ArgumentException($"mode {Convert.ToString((long)stat.Mode, 8)} is not a {kind}", nameof(stat));
    }

    private void CheckOpen()
    {
        if (_finished || _directories.Count == 0) throw new InvalidOperationException("the archive is already finished");
    }

    public void Dispose()
    {
        _archive.Dispose();
        _payload?.Dispose();
    }
}
