using System.Buffers;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Catalog;

/// <summary>
/// Writes a PBS file catalog (catalog.pcat1) as the backup client does while it encodes pxar
/// archives: the magic, then one table per directory, written when the directory is closed (so a
/// directory's table precedes its parent's), then the root table and the u64 LE offset of the root
/// table. A table is varint(length) + varint(entry count) + entries; a directory entry stores the
/// backward distance from its parent's table to its own. The client's root table holds one
/// directory per archive, named by the server archive name ("root.pxar.didx").
/// Memory: one growing table per open directory (encoded, about name + 12 bytes per entry).
/// </summary>
public sealed class CatalogWriter
{
    /// <summary>PBS's catalog reader refuses names of 4096 bytes and more.</summary>
    public const int MaxNameLength = 4095;

    private sealed class OpenDirectory(byte[] name)
    {
        public readonly byte[] Name = name;
        public readonly ArrayBufferWriter<byte> Body = new(256);
        public readonly List<(int At, long Start)> Subdirectories = [];
        public long Count;
    }

    private readonly Stream _output;
    private readonly Stack<OpenDirectory> _open = new();
    private long _position;
    private bool _finished;

    /// <summary>Starts a catalog on <paramref name="output"/> (written sequentially from its current position, counted as 0).</summary>
    public CatalogWriter(Stream output)
    {
        _output = output;
        _open.Push(new OpenDirectory([]));
        Write(BlobMagic.Catalog);
    }

    /// <summary>Bytes written so far.</summary>
    public long Position => _position;

    /// <summary>Opens a directory inside the current one; its entries follow until <see cref="EndDirectory"/>.</summary>
    public void StartDirectory(ReadOnlySpan<byte> name)
    {
        CheckName(name);
        _open.Push(new OpenDirectory(name.ToArray()));
    }

    /// <summary>Writes the current directory's table and records it in its parent.</summary>
    public void EndDirectory()
    {
        CheckOpen();
        if (_open.Count < 2) throw new InvalidOperationException("no directory is open (the root is closed by Finish)");
        var dir = _open.Pop();
        long start = _position;
        WriteTable(dir, start);
        var parent = _open.Peek();
        AppendHeader(parent, CatalogEntryKind.Directory, dir.Name);
        parent.Subdirectories.Add((parent.Body.WrittenCount, start));
    }

    public void AddFile(ReadOnlySpan<byte> name, ulong size, long mtimeSeconds)
    {
        var dir = Current(name);
        AppendHeader(dir, CatalogEntryKind.File, name);
        CatalogVarint.WriteU64(dir.Body, size);
        CatalogVarint.WriteI64(dir.Body, mtimeSeconds);
    }

    public void AddSymlink(ReadOnlySpan<byte> name) => AddPlain(CatalogEntryKind.Symlink, name);
    public void AddHardlink(ReadOnlySpan<byte> name) => AddPlain(CatalogEntryKind.Hardlink, name);
    public void AddBlockDevice(ReadOnlySpan<byte> name) => AddPlain(CatalogEntryKind.BlockDevice, name);
    public void AddCharDevice(ReadOnlySpan<byte> name) => AddPlain(CatalogEntryKind.CharDevice, name);
    public void AddFifo(ReadOnlySpan<byte> name) => AddPlain(CatalogEntryKind.Fifo, name);
    public void AddSocket(ReadOnlySpan<byte> name) => AddPlain(CatalogEntryKind.Socket, name);

    /// <summary>Writes the root table and the tail pointer to it. Every directory must be closed.</summary>
    public void Finish()
    {
        CheckOpen();
        if (_open.Count != 1) throw new InvalidOperationException($"{_open.Count - 1} directories are still open");
        var root = _open.Pop();
        long start = _position;
        WriteTable(root, start);
        Span<byte> tail = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(tail, (ulong)start);
        Write(tail);
        _output.Flush();
        _finished = true;
    }

    private void AddPlain(CatalogEntryKind kind, ReadOnlySpan<byte> name) => AppendHeader(Current(name), kind, name);

    private OpenDirectory Current(ReadOnlySpan<byte> name)
    {
        CheckOpen();
        CheckName(name);
        return _open.Peek();
    }

    private static void AppendHeader(OpenDirectory dir, CatalogEntryKind kind, ReadOnlySpan<byte> name)
    {
        dir.Body.GetSpan(1)[0] = (byte)kind;
        dir.Body.Advance(1);
        CatalogVarint.WriteU64(dir.Body, (ulong)name.Length);
        dir.Body.Write(name);
        dir.Count++;
    }

    /// <summary>varint(table length), varint(count), the entries with each directory's distance (start − child start) filled in.</summary>
    private void WriteTable(OpenDirectory dir, long start)
    {
        long length = CatalogVarint.SizeU64((ulong)dir.Count) + dir.Body.WrittenCount;
        foreach (var (_, childStart) in dir.Subdirectories) length += CatalogVarint.SizeU64((ulong)(start - childStart));
        Span<byte> varint = stackalloc byte[CatalogVarint.MaxU64Bytes];
        Write(varint[..CatalogVarint.WriteU64(varint, (ulong)length)]);
        Write(varint[..CatalogVarint.WriteU64(varint, (ulong)dir.Count)]);
        var body = dir.Body.WrittenSpan;
        int done = 0;
        foreach (var (at, childStart) in dir.Subdirectories)
        {
            Write(body[done..at]);
            Write(varint[..CatalogVarint.WriteU64(varint, (ulong)(start - childStart))]);
            done = at;
        }
        Write(body[done..]);
    }

    private void Write(ReadOnlySpan<byte> data)
    {
        _output.Write(data);
        _position += data.Length;
    }

    private void CheckOpen()
    {
        if (_finished) throw new InvalidOperationException("the catalog is already finished");
    }

    private static void CheckName(ReadOnlySpan<byte> name)
    {
        if (name.Length is 0 or > MaxNameLength || name.IndexOfAny((byte)'/', (byte)0) >= 0)
            throw new ArgumentException("a catalog entry name must be 1..4095 bytes without '/' or NUL", nameof(name));
    }
}
