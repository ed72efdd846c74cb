using System.Text;
using BackupFs.FsHost.Fuse.Protocol;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// How many requests of each opcode the kernel sent on one connection: the cost of a workload in
/// round trips (what one rsync'd file costs is this divided by the file count). One counter per
/// opcode, bumped with Interlocked on the request path.
/// </summary>
public sealed class FuseRequestCounters
{
    private const int Slots = 64; // every opcode of protocol 7.45 is below 64; higher ones share the last slot
    private readonly long[] _counts = new long[Slots];

    internal void Count(FuseOpcode opcode) => Interlocked.Increment(ref _counts[Math.Min((uint)opcode, Slots - 1)]);

    /// <summary>Opcode name (LOOKUP, GETATTR…) to count, zero counts left out.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < Slots; i++)
        {
            var n = Interlocked.Read(ref _counts[i]);
            if (n != 0) result[NameOf((uint)i)] = n;
        }
        return result;
    }

    /// <summary>"CREATE=10 GETATTR=3 …" (sorted by name), the format of the
    /// <c>user.backupfs.fuse-requests</c> xattr and of the log line at unmount.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        foreach (var (name, count) in Snapshot())
        {
            if (text.Length > 0) text.Append(' ');
            text.Append(name).Append('=').Append(count);
        }
        return text.ToString();
    }

    internal static string NameOf(uint opcode) =>
        Enum.IsDefined(typeof(FuseOpcode), opcode) ? ((FuseOpcode)opcode).ToString().ToUpperInvariant() : $"OP{opcode}";
}
