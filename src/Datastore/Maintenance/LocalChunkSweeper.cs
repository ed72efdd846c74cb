using BackupFs.Datastore.Formats;
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
        for (int prefix = 0; prefix < 65536; prefix++)
        {
            if ((prefix & 255) == 0) ct.ThrowIfCancellationRequested();
            var dir = Path.Combine(_chunks.ChunkDir, prefix.ToString("x4"));
            FileInfo[] files;
            try { files = new DirectoryInfo(dir).GetFiles(); }
            catch (DirectoryNotFoundException) { context.Progress.Add(1); continue; }
            long bytes = 0;
            foreach (var file in files)
                bytes += SweepFile(file, context);
            context.Progress.Add(1, bytes);
        }
        context.Progress.Complete();
    }

    /// <summary>Returns the bytes the file had.</summary>
    private long SweepFile(FileInfo file, GcSweepContext context)
    {
        var name = file.Name;
        var cutoff = context.Cutoff;
        var status = context.Status;
        if (name.Length < HexLength || !Digest.TryParse(name.AsSpan(0, HexLength), out var digest)) return 0;
        var suffix = name.AsSpan(HexLength);
        long size, atime;
        try
        {
            if ((file.Attributes & (FileAttributes.ReparsePoint | FileAttributes.Directory)) != 0) return 0;
            size = file.Length;
            atime = UnixSeconds(file.LastAccessTimeUtc);
        }
        catch (FileNotFoundException) { return 0; } // gone since the listing

        if (suffix.Length == 0)
        {
            var decision = cutoff.Classify(atime);
            if (decision == SweepDecision.Remove)
            {
                var outcome = RemoveUnlessTouched(file.FullName, cutoff, out var kept);
                if (outcome == RemoveOutcome.Gone) return 0;
                if (outcome == RemoveOutcome.Removed) _onChunkRemoved?.Invoke(digest);
                decision = outcome == RemoveOutcome.Removed ? SweepDecision.Remove : kept;
            }
            status.CountSwept(decision, size, bad: false);
        }
        else if (IsBadSuffix(suffix))
        {
            var decision = cutoff.Classify(atime);
            if (decision == SweepDecision.Remove && !TryDelete(file.FullName)) return 0;
            status.CountSwept(decision, size, bad: true);
        }
        else if (suffix.SequenceEqual(".using"))
        {
            TryDelete(file.FullName);
        }
        else if (suffix.SequenceEqual(QuarantineSuffix))
        {
            RecoverQuarantined(file.FullName, cutoff, status, size, atime);
        }
        else if (suffix.Contains(".tmp_", StringComparison.Ordinal))
        {
            long newest = Math.Max(atime, UnixSeconds(file.LastWriteTimeUtc));
            if (newest < cutoff.MinAtime && TryDelete(file.FullName)) status.CountRemovedTemp();
        }
        return size;
    }

    private enum RemoveOutcome { Removed, Kept, Gone }

    private static RemoveOutcome RemoveUnlessTouched(string path, GcCutoff cutoff, out SweepDecision kept)
    {
        kept = SweepDecision.Keep;
        var quarantine = path + QuarantineSuffix;
        try { File.Move(path, quarantine, overwrite: true); }
        catch (FileNotFoundException) { return RemoveOutcome.Gone; }
        var decision = cutoff.Classify(UnixSeconds(File.GetLastAccessTimeUtc(quarantine)));
        if (decision == SweepDecision.Remove)
        {
            File.Delete(quarantine);
            return RemoveOutcome.Removed;
        }
        Restore(quarantine, path);
        kept = decision;
        return RemoveOutcome.Kept;
    }

    // A quarantined chunk survives only if GC crashed mid-removal: finish the job by the same rule.
    private static void RecoverQuarantined(string quarantine, GcCutoff cutoff, GarbageCollectionStatus status, long size, long atime)
    {
        var decision = cutoff.Classify(atime);
        if (decision == SweepDecision.Remove)
        {
            if (TryDelete(quarantine)) status.CountSwept(SweepDecision.Remove, size, bad: false);
            return;
        }
        Restore(quarantine, quarantine[..^QuarantineSuffix.Length]);
    }

    // Puts a quarantined chunk back unless a backup has stored the chunk again meanwhile.
    private static void Restore(string quarantine, string path)
    {
        try { File.Move(quarantine, path, overwrite: false); }
        catch (IOException) when (File.Exists(path)) { TryDelete(quarantine); }
    }

    private static bool IsBadSuffix(ReadOnlySpan<char> suffix) =>
        suffix.Length == 6 && suffix[0] == '.' && char.IsAsciiDigit(suffix[1]) && suffix[2..].SequenceEqual(".bad");

    private static bool TryDelete(string path)
    {
        try
        {
            if (!File.Exists(path)) return false;
            File.Delete(path);
            return true;
        }
        catch (DirectoryNotFoundException) { return false; }
    }

    private static long UnixSeconds(DateTime utc) => (long)Math.Floor((utc - DateTime.UnixEpoch).TotalSeconds);
}
