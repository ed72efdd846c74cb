using System.Runtime.CompilerServices;
using BackupFs.S3.Client;
using BackupFs.S3.Layout;

namespace BackupFs.S3.Chunks;

/// <summary>A chunk object in the bucket (GC phase 2 walks these).</summary>
public readonly record struct S3ChunkObject(ChunkKey Chunk, string Key, long Size);

/// <summary>Lists the chunk objects of a datastore, page by page; other keys are skipped with a warning.</summary>
public static class S3ChunkLister
{
    public static async IAsyncEnumerable<S3ChunkObject> ListAsync(S3ObjectClient client, S3KeyLayout layout,
        Action<string>? warn = null, int pageSize = 1000, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var o in client.ListAsync(layout.ChunkPrefix, pageSize, ct).ConfigureAwait(false))
        {
            if (layout.TryParseChunkKey(o.Key, out var chunk))
                yield return new S3ChunkObject(chunk, o.Key, o.Size);
            else
                (warn ?? S3Warnings.Default)($"ignoring unexpected object '{o.Key}' in the chunk area of the bucket");
        }
    }
}
