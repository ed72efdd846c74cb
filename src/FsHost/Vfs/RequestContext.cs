namespace BackupFs.FsHost.Vfs;

/// <summary>
/// Who asked (from the request header) and a token that fires when the session ends, so long
/// waits can stop. Passed by value to every operation.
/// </summary>
public readonly record struct RequestContext(uint Uid, uint Gid, uint Pid, CancellationToken SessionEnding);

/// <summary>rename flags (renameat2).</summary>
[Flags]
public enum RenameFlags : uint
{
    None = 0,
    /// <summary>Fail with EEXIST if the target exists.</summary>
    NoReplace = 1,
    /// <summary>Swap source and target atomically.</summary>
    Exchange = 2,
    Whiteout = 4,
}

/// <summary>setxattr flags.</summary>
[Flags]
public enum XattrSetFlags : uint
{
    None = 0,
    /// <summary>Fail with EEXIST if the attribute exists.</summary>
    Create = 1,
    /// <summary>Fail with ENODATA if the attribute does not exist.</summary>
    Replace = 2,
}
