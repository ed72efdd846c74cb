using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// The append-only change log of one staging session. Together with the spool files it rebuilds
/// the session after a crash: replaying the records over the base snapshot gives the tree as it
/// was. Each record is framed as [u32 length][u32 crc32][payload] and written with one write(2),
/// so a process crash loses at most the record being written; a torn or corrupt tail is cut off
/// at the next open. fsync happens on fsync(2) of a staged file and before a commit.
/// </summary>
public sealed class StagingJournal : IDisposable
{
    public const string FileName = "journal";
    private const int MaxRecord = 1 << 20;
    private readonly SafeFileHandle _file;
    private readonly List<byte> _buffer = new(256);
    private long _end;

    private StagingJournal(SafeFileHandle file, long end, long records)
    {
        _file = file;
        _end = end;
        Records = records;
    }

    /// <summary>Records written after the header (0: nothing changed since the base).</summary>
    public long Records { get; private set; }

    /// <summary>Starts a new journal atomically (written beside, then renamed over the old one).</summary>
    /// <param name="baseTime">backup time of the base snapshot, or null when the session started empty</param>
    public static StagingJournal Create(string directory, long? baseTime)
    {
        StagingFiles.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var temp = path + ".new";
        var header = new JournalRecord { Op = JournalOp.Header, Mode = JournalRecord.FormatVersion, Number = baseTime is { } t ? (ulong)t + 1 : 0 };
        var bytes = Frame(header);
        using (var h = StagingFiles.OpenHandle(temp, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(h, bytes, 0);
            RandomAccess.FlushToDisk(h);
        }
        File.Move(temp, path, overwrite: true);
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        return new StagingJournal(file, bytes.Length, 0);
    }

    /// <summary>
    /// Opens an existing journal for replay: its base and records. A torn tail (crash mid-write) is
    /// cut off; a bad header is an error.
    /// </summary>
    public static (StagingJournal Journal, long? BaseTime, List<JournalRecord> Records) Open(string directory, Action<string>? warn = null)
    {
        var path = Path.Combine(directory, FileName);
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        try
        {
            long length = RandomAccess.GetLength(file);
            var records = new List<JournalRecord>();
            long at = 0;
            Span<byte> head = stackalloc byte[8];
            while (at + 8 <= length)
            {
                RandomAccess.Read(file, head, at);
                int len = BinaryPrimitives.ReadInt32LittleEndian(head);
                uint crc = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
                if (len <= 0 || len > MaxRecord || at + 8 + len > length) break;
                var payload = new byte[len];
                RandomAccess.Read(file, payload, at + 8);
                if (Crc32.HashToUInt32(payload) != crc) break;
                JournalRecord r;
                try { r = JournalRecord.Decode(payload); }
                catch (InvalidDataException) { break; }
                records.Add(r);
                at += 8 + len;
            }
            if (records.Count == 0 || records[0].Op != JournalOp.Header)
                throw new InvalidDataException($"{path}: not a staging journal (no header record)");
            if (records[0].Mode != JournalRecord.FormatVersion)
                throw new InvalidDataException($"{path}: journal format {records[0].Mode} is not supported");
            if (at < length)
            {
                warn?.Invoke($"{path}: cut {length - at} bytes of an unfinished record at the end (the mount was interrupted)");
                RandomAccess.SetLength(file, at);
            }
            long? baseTime = records[0].Number == 0 ? null : (long)records[0].Number - 1;
            records.RemoveAt(0);
            return (new StagingJournal(file, at, records.Count), baseTime, records);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Append(JournalRecord record)
    {
        byte[] bytes;
        lock (_buffer) bytes = Frame(record, _buffer);
        lock (_file)
        {
            RandomAccess.Write(_file, bytes, _end);
            _end += bytes.Length;
            Records++;
        }
    }

    public void Flush()
    {
        lock (_file) RandomAccess.FlushToDisk(_file);
    }

    private static byte[] Frame(JournalRecord record, List<byte>? scratch = null)
    {
        var o = scratch ?? new List<byte>(64);
        o.Clear();
        o.AddRange(stackalloc byte[8]);
        record.Encode(o);
        var bytes = o.ToArray();
        int len = bytes.Length - 8;
        if (len > MaxRecord) throw new StagingException(Vfs.Errno.E2BIG, "journal record too large");
        BinaryPrimitives.WriteInt32LittleEndian(bytes, len);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), Crc32.HashToUInt32(bytes.AsSpan(8)));
        return bytes;
    }

    public void Dispose() => _file.Dispose();
}
