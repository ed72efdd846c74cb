using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// GC's safety check (PBS check_fs_atime_updates, tuning gc-atime-safety-check): GC marks by
/// access time, so on a file system that ignores explicit atime updates it would delete chunks in
/// use. Sets a scratch file's atime to the past, touches it the way marking does, and reads it back.
/// Unlike PBS it uses a scratch file instead of inserting the 4 MiB zero chunk, so the store gains no chunk.
/// </summary>
public static class AtimeCheck
{
    public static void Run(string chunkDir)
    {
        // The probe is written and deleted here: never in a directory a planted symlink points to.
        if (Platform.Posix.TryLStat(Platform.Posix.PathBytes(chunkDir)) is { IsSymlink: true })
            throw new Platform.UnsafePathException($"refusing to use {chunkDir}: it is a symbolic link, not a directory of the datastore");
        var probe = Path.Combine(chunkDir, $".gc-atime-check-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            var past = DateTime.UtcNow.AddDays(-2);
            File.SetLastAccessTimeUtc(probe, past);
            var before = DateTime.UtcNow.AddSeconds(-2);
            ChunkFileTimes.TouchAccessTime(probe);
            var after = File.GetLastAccessTimeUtc(probe);
            if (after < before)
                throw new BackupFsException($"the file system of {chunkDir} does not update access times (set {past:O}, touched, read {after:O}); garbage collection would remove chunks in use, so it does not run");
        }
        finally
        {
            try { File.Delete(probe); } catch (IOException) { }
        }
    }
}
