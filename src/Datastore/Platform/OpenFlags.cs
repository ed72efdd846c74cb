using System.Runtime.InteropServices;

namespace BackupFs.Datastore.Platform;

/// <summary>
/// open(2) flags as Linux defines them. Most are the same on every architecture; O_DIRECTORY and
/// O_NOFOLLOW are not (arm and arm64 use other bits than x86-64), so those two are read-only fields.
/// </summary>
public static class OpenFlags
{
    public const int ReadOnly = 0;          // O_RDONLY
    public const int WriteOnly = 1;         // O_WRONLY
    public const int ReadWrite = 2;         // O_RDWR
    public const int AccessMode = 3;        // O_ACCMODE: mask of the three above
    public const int Create = 0x40;         // O_CREAT
    public const int Exclusive = 0x80;      // O_EXCL
    public const int Truncate = 0x200;      // O_TRUNC
    public const int Append = 0x400;        // O_APPEND
    public const int NonBlock = 0x800;      // O_NONBLOCK
    public const int CloseOnExec = 0x80000; // O_CLOEXEC
    public const int PathOnly = 0x200000;   // O_PATH

    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;
    /// <summary>O_DIRECTORY: 0x10000 on x86-64, 0x4000 on arm.</summary>
    public static readonly int Directory = Arm ? 0x4000 : 0x10000;
    /// <summary>O_NOFOLLOW: 0x20000 on x86-64, 0x8000 on arm.</summary>
    public static readonly int NoFollow = Arm ? 0x8000 : 0x20000;

    /// <summary>True when <paramref name="flags"/> open for writing (O_WRONLY or O_RDWR).</summary>
    public static bool Writes(int flags) => (flags & AccessMode) != ReadOnly;
}
