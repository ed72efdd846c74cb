using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// Every index file (*.fidx, *.didx) below a datastore directory, wherever it lies — PBS's
/// list_index_files pre-scan, so GC also marks index files outside the expected layout. Skips
/// the chunk store and BackupFs's private directory; does not follow symbolic links.
/// </summary>
internal static class IndexFileScanner
{
    public static bool IsIndexName(string name) =>
        name.EndsWith(".fidx", StringComparison.Ordinal) || name.EndsWith(".didx", StringComparison.Ordinal);

    public static HashSet<string> FindAll(DataStore store, CancellationToken ct)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        pending.Push(store.Root);
        var options = new EnumerationOptions { AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = false, RecurseSubdirectories = false };
        while (pending.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var dir = pending.Pop();
            IEnumerable<string> dirs, files;
            try
            {
                dirs = Directory.EnumerateDirectories(dir, "*", options).ToList();
                files = Directory.EnumerateFiles(dir, "*", options).ToList();
            }
            catch (DirectoryNotFoundException) { continue; } // removed meanwhile (prune)
            foreach (var file in files)
                if (IsIndexName(Path.GetFileName(file))) found.Add(file);
            foreach (var sub in dirs)
            {
                if (dir == store.Root)
                {
                    var name = Path.GetFileName(sub);
                    if (name == LocalChunkStore.ChunkDirName || name == DataStore.PrivateDirName) continue;
                }
                pending.Push(sub);
            }
        }
        return found;
    }
}
