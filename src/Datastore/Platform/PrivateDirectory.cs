namespace BackupFs.Datastore.Platform;

/// <summary>
/// BackupFs's own state below a store (.backupfs/…) is private: directories are created 0700 by mkdir
/// itself (never made private afterwards), and no component below the store root may be a symlink, so
/// a hostile store cannot point our state (locks, writer registrations, logs) somewhere else. An
/// existing directory must belong to this user (or root); one that others can read or write is
/// tightened to 0700.
/// </summary>
public static class PrivateDirectory
{
    public const uint DirectoryMode = 0x1C0; // 0700
    public const uint FileMode = 0x180;      // 0600
    public const UnixFileMode UnixFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates root/relative (each missing component 0700) and returns its full path.</summary>
    /// <exception cref="UnsafePathException">a component is a symlink or not a directory</exception>
    public static string Ensure(string root, string relative)
    {
        var dir = DirectoryHandle.OpenTrusted(root);
        try
        {
            foreach (var part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var next = dir.CreateChild(part, DirectoryMode);
                dir.Dispose();
                dir = next;
                Tighten(dir);
            }
            return dir.Path;
        }
        finally { dir.Dispose(); }
    }

    // Stores made before state was private have a 0755 .backupfs: close it (through the descriptor, so no symlink is followed).
    private static void Tighten(DirectoryHandle dir)
    {
        var st = dir.StatSelf();
        uint me = LibC.geteuid();
        if (st.Uid != me && st.Uid != 0)
            throw new UnsafePathException($"refusing to keep state in {dir.Path}: it belongs to uid {st.Uid}, not to this user (uid {me}); chown or remove it");
        if ((st.Mode & 0x3F) != 0 && st.Uid == me) dir.ChangeMode(st.Mode & 0x1C0 | DirectoryMode);
    }
}
