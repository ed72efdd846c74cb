using BackupFs.Datastore.Layout;
using BackupFs.S3.Chunks;

namespace BackupFs.FsHost.Cli;

/// <summary>One line of object-store traffic after a command on an S3 datastore (nothing for a local one).</summary>
public static class S3Usage
{
    public static void Report(DataStore store, TextWriter output)
    {
        if (store.Chunks is not S3ChunkBackend s3) return;
        var c = s3.Client.Counters.Snapshot();
        var cache = s3.Stats;
        output.WriteLine($"s3 requests: {c.Put} PUT, {c.Get} GET, {c.Head} HEAD, {c.List} LIST, {c.Delete} DELETE, {c.Copy} COPY; " +
                         $"chunk cache: {cache.Hits} hits, {cache.Misses} misses");
    }
}
