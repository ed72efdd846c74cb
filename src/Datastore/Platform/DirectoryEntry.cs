using System.Text;

namespace BackupFs.Datastore.Platform;

/// <summary>One entry of a directory listing: raw name bytes (no NUL) and its lstat.</summary>
public readonly record struct DirectoryEntry(byte[] NameBytes, PosixStat Stat)
{
    public string Name => Encoding.UTF8.GetString(NameBytes);
}
