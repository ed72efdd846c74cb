using System.Globalization;
using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// The running backups of a datastore, so garbage collection can keep every chunk a backup may
/// still reference (PBS reads the same from the shared holders of its process lock).
/// Each backup owns one file "&lt;start epoch&gt;-&lt;pid&gt;-&lt;random&gt;.writer" in
/// &lt;store&gt;/.backupfs/writers/, flock-ed exclusively while it runs and deleted at the end. A
/// file whose lock is free belongs to a process that died: it is ignored and removed.
/// The start time is in the name because a flock-ed file cannot be opened for reading in .NET.
/// </summary>
public static class BackupWriterRegistry
{
    public const string DirectoryName = "writers";
    private const string Extension = ".writer";
    private const string TempExtension = ".registering";
    // A registration is created under a temp name and renamed once locked; a free temp file
    // older than this was left by a crash.
    private static readonly TimeSpan StaleTempAge = TimeSpan.FromMinutes(1);

    public static string DirectoryOf(DataStore store) => Path.Combine(store.PrivateDir, DirectoryName);

    /// <summary>Registers a running backup that started at <paramref name="startTime"/> (epoch seconds, default now).</summary>
    public static WriterRegistration Register(DataStore store, long? startTime = null)
    {
        long start = startTime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var dir = store.EnsurePrivateDirectory(DirectoryName); // 0700, never through a symlink
        for (int attempt = 0; ; attempt++)
        {
            string id = $"{start}-{Environment.ProcessId}-{Random.Shared.Next():x8}";
            var temp = Path.Combine(dir, id + TempExtension);
            FileStream stream;
            try
            {
                // Locked before it gets its real name, so GC never sees an unlocked ".writer" of a live backup.
                stream = new FileStream(temp, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.None,
                    UnixCreateMode = Platform.PrivateDirectory.UnixFile,
                });
            }
            catch (IOException) when (attempt < 5)
            {
                continue; // name clash, or a GC probing this very temp file
            }
            try
            {
                stream.Write(System.Text.Encoding.ASCII.GetBytes($"pid {Environment.ProcessId} start {start}\n"));
                stream.Flush();
                var final = Path.Combine(dir, id + Extension);
                File.Move(temp, final);
                return new WriterRegistration(final, start, stream);
            }
            catch
            {
                stream.Dispose();
                try { File.Delete(temp); } catch (IOException) { }
                throw;
            }
        }
    }

    /// <summary>Start times (epoch seconds) of the backups running now; removes files of dead processes.</summary>
    public static IReadOnlyList<long> RunningWriterStarts(DataStore store)
    {
        var dir = DirectoryOf(store);
        var starts = new List<long>();
        if (!Directory.Exists(dir)) return starts;
        foreach (var path in Directory.EnumerateFiles(dir))
        {
            var name = Path.GetFileName(path);
            if (name.EndsWith(Extension, StringComparison.Ordinal))
            {
                if (!TryParseStart(name, out long start)) continue;
                if (IsHeld(path, removeIfFree: true)) starts.Add(start);
            }
            else if (name.EndsWith(TempExtension, StringComparison.Ordinal)
                     && DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > StaleTempAge)
            {
                IsHeld(path, removeIfFree: true);
            }
        }
        return starts;
    }

    /// <summary>The start of the oldest running backup, or null when none runs.</summary>
    public static long? OldestRunningWriter(DataStore store)
    {
        var starts = RunningWriterStarts(store);
        return starts.Count == 0 ? null : starts.Min();
    }

    private static bool TryParseStart(string name, out long start)
    {
        int dash = name.IndexOf('-');
        start = 0;
        return dash > 0 && long.TryParse(name.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out start);
    }

    /// <summary>True when a live process holds the file's lock; a free file is deleted when asked.</summary>
    private static bool IsHeld(string path, bool removeIfFree)
    {
        FileStream probe;
        try { probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None); }
        catch (FileNotFoundException) { return false; } // the backup just ended
        catch (IOException) { return true; }           // locked: the backup runs
        using (probe)
        {
            if (removeIfFree)
                try { File.Delete(path); } catch (IOException) { }
        }
        return false;
    }
}

/// <summary>A running backup's entry in the <see cref="BackupWriterRegistry"/>; disposing ends it.</summary>
public sealed class WriterRegistration : IDisposable
{
    private FileStream? _lock;
    public string Path { get; }
    /// <summary>Epoch seconds.</summary>
    public long StartTime { get; }

    internal WriterRegistration(string path, long startTime, FileStream @lock)
    {
        Path = path;
        StartTime = startTime;
        _lock = @lock;
    }

    public void Dispose()
    {
        if (_lock is null) return;
        // Delete while still locked: GC then sees either a held file or none.
        try { File.Delete(Path); } catch (IOException) { }
        _lock.Dispose();
        _lock = null;
    }
}
