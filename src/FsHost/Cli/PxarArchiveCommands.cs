using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Cli;

/// <summary>The pxar side of `cat`: find one file inside an archive and stream it.</summary>
public static class PxarArchiveCommands
{
    public static async Task CatFileAsync(SnapshotReader reader, CachedChunkSource chunks, string archive, string path, Stream output, CancellationToken ct)
    {
        var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, archive, ct);
        var entry = await accessor.LookupPathAsync(path.Trim('/'), followFinalHardlink: true, ct)
                    ?? throw new BackupFsException($"'{path}' is not in {archive}");
        if (entry.Kind != PxarEntryKind.File) throw new BackupFsException($"'{path}' is a {entry.Kind.ToString().ToLowerInvariant()}, not a regular file");
        var buffer = new byte[1 << 20];
        for (long offset = 0; offset < entry.Size;)
        {
            int n = await accessor.ReadFileAsync(entry, offset, buffer.AsMemory(0, (int)Math.Min(buffer.Length, entry.Size - offset)), ct);
            if (n == 0) throw new FormatCorruptException($"{archive}: '{path}' ends before its stated size");
            await output.WriteAsync(buffer.AsMemory(0, n), ct);
            offset += n;
        }
    }
}
