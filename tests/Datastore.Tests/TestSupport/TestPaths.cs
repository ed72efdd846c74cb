namespace BackupFs.Datastore.Tests.TestSupport;

/// <summary>Locates the repository and its test vectors.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// The reference vectors, copied into the repository (tests/vectors) so a fresh clone tests with
    /// nothing beside it; BACKUPFS_VECTORS overrides (e.g. to check a newer tests/vectors).
    /// </summary>
    public static string Vectors
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("BACKUPFS_VECTORS");
            var dir = !string.IsNullOrEmpty(env) ? env : Path.Combine(RepoRoot, "tests", "vectors");
            if (!Directory.Exists(dir))
                throw new DirectoryNotFoundException($"the test vectors are missing: {dir} (set BACKUPFS_VECTORS)");
            return dir;
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "BackupFs.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("BackupFs.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary directory removed when the test ends.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; }
    /// <param name="onDisk">
    /// Use the disk's temp directory instead of tmpfs: tests/vectors/mktree.py assigns mtimes
    /// in readdir order, which differs between tmpfs and the disk the vectors were made on.
    /// </param>
    public TempDir(string? prefix = null, bool onDisk = false)
    {
        Path = System.IO.Path.Combine(onDisk ? System.IO.Path.GetTempPath() : Base, (prefix ?? "backupfs-test-") + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }
    /// <summary>
    /// tmpfs when the machine has one: a datastore creates 65536 chunk directories, which takes
    /// ~10 s on this disk and ~1 s in memory. Not a small one (a container's default /dev/shm is
    /// 64 MiB, which parallel tests would fill). BACKUPFS_TEST_TMP overrides.
    /// </summary>
    public static string Base { get; } = ChooseBase();

    private static string ChooseBase()
    {
        var env = Environment.GetEnvironmentVariable("BACKUPFS_TEST_TMP");
        if (!string.IsNullOrEmpty(env)) return env;
        try
        {
            if (Directory.Exists("/dev/shm") && new DriveInfo("/dev/shm").AvailableFreeSpace >= 4L << 30) return "/dev/shm";
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return System.IO.Path.GetTempPath();
    }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
