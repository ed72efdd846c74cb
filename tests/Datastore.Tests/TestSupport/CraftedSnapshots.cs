using System.Buffers.Binary;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.TestSupport;

/// <summary>Finished snapshots with hand-made archive streams (hostile content that no writer would produce).</summary>
public static class CraftedSnapshots
{
    /// <summary>
    /// Writes a finished snapshot of <paramref name="group"/> whose only file is <paramref name="archiveName"/>
    /// (a .didx) over <paramref name="chunks"/> in this order; equal chunks are stored once, so a
    /// repeated chunk makes a tiny index describe a large stream.
    /// </summary>
    public static async Task<SnapshotRef> WriteDynamicAsync(DataStore store, BackupGroup group, long time, string archiveName, IReadOnlyList<byte[]> chunks)
    {
        await using (var writer = await BackupStarter.BeginAsync(store, group, new BackupOptions { BackupTime = time }))
        {
            await writer.AddBlobAsync("placeholder.blob", new byte[1]);
            await writer.FinishAsync();
        }
        var snapshot = new SnapshotRef(group, time);
        var dir = store.FullPath(snapshot.RelativePath);
        var entries = new List<DynamicIndexEntry>(chunks.Count);
        var stored = new HashSet<Digest>();
        long end = 0;
        foreach (var chunk in chunks)
        {
            var digest = Digest.Compute(chunk);
            if (stored.Add(digest)) await store.Chunks.InsertAsync(digest, DataBlob.Encode(chunk));
            end += chunk.Length;
            entries.Add(new DynamicIndexEntry(end, digest));
        }
        var index = DynamicIndex.Build(entries);
        await File.WriteAllBytesAsync(Path.Combine(dir, archiveName), index);
        File.Delete(Path.Combine(dir, "placeholder.blob"));
        var manifest = new BackupManifest { BackupType = group.Type.ToName(), BackupId = group.Id, BackupTime = time };
        manifest.Files.Add(new ManifestFileInfo(archiveName, CryptMode.None, (ulong)end, DynamicIndex.ComputeChecksum(entries)));
        await File.WriteAllBytesAsync(Path.Combine(dir, DataStore.ManifestName), manifest.ToBlob());
        return snapshot;
    }

    /// <summary>
    /// The reported hostile archive: a v1 pxar whose root holds one file "a" and a goodbye table of
    /// <paramref name="itemsPerChunk"/> × <paramref name="repeats"/> items all pointing at it. As
    /// chunks: the archive up to the GOODBYE header, one chunk of items repeated, the tail.
    /// </summary>
    public static async Task<List<byte[]>> RepeatedGoodbyeAsync(int itemsPerChunk, int repeats)
    {
        var meta = new MemoryStream();
        using (var e = await PxarEncoder.CreateAsync(meta, new PxarStat(0x41ED, 0, 0, 0, 1, 0)))
        {
            await e.AddFileAsync("a"u8.ToArray(), new PxarStat(0x81A4, 0, 0, 0, 1, 0), null, new MemoryStream([]), 0);
            await e.FinishAsync();
        }
        var bytes = meta.ToArray();
        int goodbye = bytes.Length - PxarFormat.HeaderSize - 2 * PxarFormat.GoodbyeItemSize;
        var item = bytes.AsSpan(goodbye + PxarFormat.HeaderSize, PxarFormat.GoodbyeItemSize).ToArray();
        long count = (long)itemsPerChunk * repeats;
        ulong tableSize = (ulong)(PxarFormat.HeaderSize + (count + 1) * PxarFormat.GoodbyeItemSize);
        var first = new byte[goodbye + PxarFormat.HeaderSize];
        bytes.AsSpan(0, goodbye + 8).CopyTo(first); // up to and with the GOODBYE type
        BinaryPrimitives.WriteUInt64LittleEndian(first.AsSpan(goodbye + 8), tableSize);
        var items = new byte[itemsPerChunk * PxarFormat.GoodbyeItemSize];
        for (int i = 0; i < itemsPerChunk; i++) item.CopyTo(items, i * PxarFormat.GoodbyeItemSize);
        var tail = new byte[PxarFormat.GoodbyeItemSize];
        new GoodbyeItem(PxarFormat.GoodbyeTailMarker, (ulong)goodbye, tableSize).Write(tail);
        var chunks = new List<byte[]> { first };
        for (int r = 0; r < repeats; r++) chunks.Add(items);
        chunks.Add(tail);
        return chunks;
    }
}
