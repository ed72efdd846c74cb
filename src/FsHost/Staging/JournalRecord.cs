namespace BackupFs.FsHost.Staging;

/// <summary>Kinds of journal records; the numbers are on disk.</summary>
public enum JournalOp : byte
{
    Header = 1,
    /// <summary>Gives the base inode at Parent/Name the number Number.</summary>
    Bind = 2,
    MakeDirectory = 3,
    MakeNode = 4,
    Create = 5,
    Symlink = 6,
    Link = 7,
    Unlink = 8,
    RemoveDirectory = 9,
    Rename = 10,
    SetAttributes = 11,
    /// <summary>Number's content now lives in its spool file.</summary>
    Spool = 12,
    SetXattr = 13,
    RemoveXattr = 14,
    /// <summary>Number was written: its mtime/ctime are Time.</summary>
    Touch = 15,
    /// <summary>
    /// The snapshot whose backup time is Number - 1 holds every change before this record: written
    /// just before the session restarts from it, so a journal that ends here (the mount ended before
    /// the restart) starts from that snapshot instead of committing the same tree again.
    /// </summary>
    Committed = 16,
}

/// <summary>
/// One change of a staging session, as the journal stores it. Every record carries every field
/// (unused ones are zero and cost a byte), which keeps the encoding one simple routine.
/// </summary>
public sealed class JournalRecord
{
    public JournalOp Op;
    /// <summary>When the change happened (ns since the epoch): replay applies it with this time.</summary>
    public long Time;
    public ulong Number, Parent, NewParent;
    public uint Mode, Uid, Gid, Flags, Fields;
    public ulong DeviceMajor, DeviceMinor;
    public long AccessTime, ModificationTime;
    public byte[] Name = [], NewName = [], Target = [], Value = [];

    public const int FormatVersion = 1;

    internal void Encode(List<byte> o)
    {
        o.Add((byte)Op);
        PutVar(o, (ulong)Time);
        PutVar(o, Number); PutVar(o, Parent); PutVar(o, NewParent);
        PutVar(o, Mode); PutVar(o, Uid); PutVar(o, Gid); PutVar(o, Flags); PutVar(o, Fields);
        PutVar(o, DeviceMajor); PutVar(o, DeviceMinor);
        PutVar(o, (ulong)AccessTime); PutVar(o, (ulong)ModificationTime);
        PutBytes(o, Name); PutBytes(o, NewName); PutBytes(o, Target); PutBytes(o, Value);
    }

    /// <summary>Decodes one record payload; throws InvalidDataException when it is malformed.</summary>
    internal static JournalRecord Decode(ReadOnlySpan<byte> p)
    {
        int at = 0;
        if (p.Length < 1) throw new InvalidDataException("empty journal record");
        var op = (JournalOp)p[at++];
        if (op is < JournalOp.Header or > JournalOp.Committed) throw new InvalidDataException($"unknown journal record type {(byte)op}");
        var r = new JournalRecord { Op = op };
        r.Time = (long)GetVar(p, ref at);
        r.Number = GetVar(p, ref at); r.Parent = GetVar(p, ref at); r.NewParent = GetVar(p, ref at);
        r.Mode = (uint)GetVar(p, ref at); r.Uid = (uint)GetVar(p, ref at); r.Gid = (uint)GetVar(p, ref at);
        r.Flags = (uint)GetVar(p, ref at); r.Fields = (uint)GetVar(p, ref at);
        r.DeviceMajor = GetVar(p, ref at); r.DeviceMinor = GetVar(p, ref at);
        r.AccessTime = (long)GetVar(p, ref at); r.ModificationTime = (long)GetVar(p, ref at);
        r.Name = GetBytes(p, ref at); r.NewName = GetBytes(p, ref at); r.Target = GetBytes(p, ref at); r.Value = GetBytes(p, ref at);
        if (at != p.Length) throw new InvalidDataException("journal record has trailing bytes");
        return r;
    }

    private static void PutVar(List<byte> o, ulong v)
    {
        while (v >= 0x80) { o.Add((byte)(v | 0x80)); v >>= 7; }
        o.Add((byte)v);
    }

    private static void PutBytes(List<byte> o, byte[] b)
    {
        PutVar(o, (ulong)b.Length);
        o.AddRange(b);
    }

    private static ulong GetVar(ReadOnlySpan<byte> p, ref int at)
    {
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (at >= p.Length) throw new InvalidDataException("journal record ends inside a number");
            byte b = p[at++];
            v |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
        throw new InvalidDataException("journal record has an over-long number");
    }

    private static byte[] GetBytes(ReadOnlySpan<byte> p, ref int at)
    {
        ulong n = GetVar(p, ref at);
        if (n > (ulong)(p.Length - at)) throw new InvalidDataException("journal record ends inside a name or value");
        var b = p.Slice(at, (int)n).ToArray();
        at += (int)n;
        return b;
    }
}
