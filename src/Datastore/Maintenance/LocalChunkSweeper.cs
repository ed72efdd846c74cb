using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Store;

namespace BackupFs.Datastore.Maintenance;

/// <summary>
/// GC phase 2 over a chunk directory (.chunks/0000 … .chunks/ffff), as PBS's sweep_unused_chunks:
/// chunk files and "&lt;hex&gt;.&lt;n&gt;.bad" files whose atime is before the cutoff are deleted,
/// the others counted as pending or in use; "&lt;hex&gt;.using" markers (S3 caches) are always
/// deleted; temp files of crashed writes ("….tmp_…") are deleted once older than the cutoff and
/// otherwise left alone (they may belong to a running insert).
/// <para>A chunk is never deleted in place: it is renamed to "&lt;hex&gt;.gcq" first and its atime
/// read again. A backup that reused the chunk between the first look and the rename has set a
/// fresh atime, and the chunk is moved back; one that looks after the rename finds no file and
/// stores the chunk again (LocalChunkStore.Insert/Contains treat a failed touch as absent). So a
/// chunk a concurrent backup relies on is never lost, even across processes.</para>
/// <para>Also the phase-3 sweep of an S3 store's cache: pass <c>onChunkRemoved</c> to drop removed
/// chunks from the cache's bookkeeping.</para>
/// </summary>
public sealed class LocalChunkSweeper
{
    public const string QuarantineSuffix = ".gcq";
    private const int HexLength = 2 * Digest.Size;

    private readonly LocalChunkStore _chunks;
    private readonly Action<Digest>? _onChunkRemoved;

    public LocalChunkSweeper(LocalChunkStore chunks, Action<Digest>? onChunkRemoved = null)
    {
        _chunks = chunks;
        _onChunkRemoved = onChunkRemoved;
    }

    public Task SweepAsync(GcSweepContext context, CancellationToken ct) =>
        Task.Run(() => Sweep(context, ct), ct);

    private void Sweep(GcSweepContext context, CancellationToken ct)
    {
        context.Progress.SetTotal(65536);
        // Every prefix directory is opened from .chunks without following symlinks, and every delete or
        // rename is relative to that descriptor: a planted symlink (.chunks itself, a prefix directory or
        // a chunk file) can never make GC delete or rename anything outside the store.
        using var chunkDir = DirectoryHandle.OpenBelow(_chunks.DatastoreRoot, LocalChunkStore.ChunkDirName)
            ?? throw new BackupFsException($"{_chunks.ChunkDir} does not exist");
        for (int prefix = 0; prefix < 65536; prefix++)
        {
            if ((prefix & 255) == 0) ct.ThrowIfCancellationRequested();
            using var dir = chunkDir.OpenChild(prefix.ToString("x4"));
            if (dir is null) { context.Progress.Add(1); continue; }
            long bytes = 0;
            foreach (var entry in dir.ReadEntries())
                bytes += SweepFile(dir, entry, context);
            context.Progress.Add(1, bytes);
        }
        context.Progress.Complete();
    }

    /// <summary>Returns the bytes the file had.</summary>
    private long SweepFile(DirectoryHandle dir, DirectoryEntry entry, GcSweepContext context)
    {
        var name = entry.Name;
        var cutoff = context.Cutoff;
        var status = context.Status;
        if (name.Length < HexLength || !Digest.TryParse(name.AsSpan(0, HexLength), out var digest)) return 0;
        // Only regular files are chunks: a symlink (or anything else) is left alone, never followed.
        if (!entry.Stat.IsRegular) return 0;
        var suffix = name.AsSpan(HexLength);
        long size = entry.Stat.Size, atime = entry.Stat.AtimeSeconds;

        if (suffix.Length == 0)
        {
            var decision = cutoff.Classify(atime);
            if (decision == SweepDecision.Remove)
            {
                var outcome = RemoveUnlessTouched(dir, name, cutoff, out var kept);
                if (outcome == RemoveOutcome.Gone) return 0;
                if (outcome == RemoveOutcome.Removed) _onChunkRemoved?.Invoke(digest);
                decision = outcome == RemoveOutcome.Removed ? SweepDecision.Remove : kept;
            }
            status.CountSwept(decision, size, bad: false);
        }
        else if (IsBadSuffix(suffix))
        {
            var decision = cutoff.Classify(atime);
            if (decision == SweepDecision.Remove && !dir.DeleteFile(name)) return 0;
            status.CountSwept(decision, size, bad: true);
        }
        else if (suffix.SequenceEqual(".using"))
        {
            dir.DeleteFile(name);
        }
        else if (suffix.SequenceEqual(QuarantineSuffix))
        {
            RecoverQuarantined(dir, name, cutoff, status, size, atime);
        }
        else if (suffix.Contains(".tmp_", StringComparison.Ordinal))
        {
            long newest = Math.Max(atime, entry.Stat.MtimeSeconds);
            if (newest < cutoff.MinAtime && dir.DeleteFile(name)) status.CountRemovedTemp();
        }
        return size;
    }

    private enum RemoveOutcome { Removed, Kept, Gone }

    private static RemoveOutcome RemoveUnlessTouched(DirectoryHandle dir, string name, GcCutoff cutoff, out SweepDecision kept)
    {
        kept = SweepDecision.Keep;
        var quarantine = name + QuarantineSuffix;
        try { dir.Rename(name, quarantine, replace: true); }
        catch (FileNotFoundException) { return RemoveOutcome.Gone; }
        var decision = dir.TryStat(quarantine) is { IsRegular: true } st ? cutoff.Classify(st.AtimeSeconds) : SweepDecision.Keep;
        if (decision == SweepDecision.Remove)
        {
            dir.DeleteFile(quarantine);
            return RemoveOutcome.Removed;
        }
        Restore(dir, quarantine, name);
        kept = decision;
        return RemoveOutcome.Kept;
    }

    // A quarantined chunk survives only if GC crashed mid-removal: finish the job by the same rule.
    private static void RecoverQuarantined(DirectoryHandle dir, string quarantine, GcCutoff cutoff, GarbageCollectionStatus status, long size, long atime)
    {
        var decision = cutoff.Classify(atime);
        if (decision == SweepDecision.Remove)
        {
            if (dir.DeleteFile(quarantine)) status.CountSwept(SweepDecision.Remove, size, bad: false);
            return;
        }
        Restore(dir, quarantine, quarantine[..^QuarantineSuffix.Length]);
    }

    // Puts a quarantined chunk back unless a backup has stored the chunk again meanwhile.
    private static void Restore(DirectoryHandle dir, string quarantine, string name)
    {
        try
        {
            if (!dir.Rename(quarantine, name, replace: false)) dir.DeleteFile(quarantine);
        }
        catch (FileNotFoundException) { }
    }

    private static bool IsBadSuffix(ReadOnlySpan<char> suffix) =>
        suffix.Length == 6 && suffix[0] == '.' && char.IsAsciiDigit(suffix[1]) && suffix[2..].SequenceEqual(".bad");
}
