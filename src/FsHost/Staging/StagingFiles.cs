using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// Creates staging's on-disk state private from the start: directories 0700, spool files, the
/// journal and markers 0600 (the mode is given to mkdir/open, never fixed up afterwards), since
/// they hold whatever was written into staging, whatever its own mode.
/// </summary>
internal static class StagingFiles
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates the directory and any missing parents, each with mode 0700 (Directory.CreateDirectory gives parents the default mode).</summary>
    public static void CreateDirectory(string path)
    {
        var missing = new Stack<string>();
        for (var at = Path.GetFullPath(path); !Directory.Exists(at); at = Path.GetDirectoryName(at)!)
        {
            missing.Push(at);
            if (Path.GetDirectoryName(at) is null) break;
        }
        while (missing.TryPop(out var dir))
        {
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir); // no modes there; the ACL of the parent applies
            else Directory.CreateDirectory(dir, DirectoryMode);
        }
    }

    /// <summary>Opens a file, creating it with mode 0600 when it does not exist.</summary>
    public static SafeFileHandle OpenHandle(string path, System.IO.FileMode mode, FileAccess access, FileShare share = FileShare.Read)
    {
        if (mode is System.IO.FileMode.Open or System.IO.FileMode.Truncate) return File.OpenHandle(path, mode, access, share);
        // Made (or truncated) with its mode by a FileStream, then opened as a bare handle.
        using (new FileStream(path, Options(mode, FileAccess.Write, share | FileShare.ReadWrite))) { }
        return File.OpenHandle(path, System.IO.FileMode.Open, access, share);
    }

    /// <summary>A stream on a file created with mode 0600 when it does not exist.</summary>
    public static FileStream OpenPrivate(string path, System.IO.FileMode mode, FileAccess access, FileShare share = FileShare.Read) =>
        new(path, Options(mode, access, share));

    private static FileStreamOptions Options(System.IO.FileMode mode, FileAccess access, FileShare share)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share, BufferSize = 0 };
        if (!OperatingSystem.IsWindows() && mode is not (System.IO.FileMode.Open or System.IO.FileMode.Truncate)) options.UnixCreateMode = FileMode;
        return options;
    }
}
