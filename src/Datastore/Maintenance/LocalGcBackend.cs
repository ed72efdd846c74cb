using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Maintenance;

/// <summary>GC over a local datastore directory: marks by atime, sweeps .chunks (see <see cref="IGcBackend"/>).</summary>
public sealed class LocalGcBackend : IGcBackend
{
    private readonly LocalChunkStore _chunks;

    public LocalGcBackend(LocalChunkStore chunks) => _chunks = chunks;

    public string Description => $"local chunk store {_chunks.DatastoreRoot}";

    /// <summary>Fails when the file system does not let utimensat set atimes (GC would delete chunks in use).</summary>
    public ValueTask PrepareAsync(bool atimeSafetyCheck, CancellationToken ct)
    {
        if (atimeSafetyCheck) AtimeCheck.Run(_chunks.ChunkDir);
        return ValueTask.CompletedTask;
    }

    public ChunkMarkResult MarkChunk(Digest digest)
    {
        if (_chunks.Touch(digest)) return ChunkMarkResult.Marked;
        // Keep the evidence of a corrupt copy while an index still needs the chunk (PBS cond_touch_bad_chunks).
        var path = _chunks.ChunkPath(digest);
        for (int n = 0; n < 10; n++) ChunkFileTimes.TouchAccessTime($"{path}.{n}.bad");
        return ChunkMarkResult.Missing;
    }

    public Task SweepAsync(GcSweepContext context, CancellationToken ct) =>
        new LocalChunkSweeper(_chunks).SweepAsync(context, ct);
}
