namespace BackupFs.Datastore.Store;

/// <summary>
/// Writes a file so that readers see either the old or the complete new content: write a
/// temp file beside it (PBS's ".tmp_XXXXXX" pattern), then rename over the target.
/// </summary>
public static class AtomicFile
{
    /// <param name="createMode">permissions of the new file, set at creation (e.g. 0600 for private state); default 0666 minus umask</param>
    public static void Write(string path, ReadOnlySpan<byte> data, bool fsync = false, UnixFileMode? createMode = null)
    {
        var tmp = path + ".tmp_" + Random.Shared.Next(0, int.MaxValue).ToString("x6");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 };
            if (createMode is { } mode && !OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
            using (var fs = new FileStream(tmp, options))
            {
                fs.Write(data);
                if (fsync) fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    public static async Task WriteAsync(string path, ReadOnlyMemory<byte> data, bool fsync = false, CancellationToken ct = default)
    {
        var tmp = path + ".tmp_" + Random.Shared.Next(0, int.MaxValue).ToString("x6");
        try
        {
            await using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                await fs.WriteAsync(data, ct);
                if (fsync) fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }
}
