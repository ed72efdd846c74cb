using System.CommandLine;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Store;

namespace BackupFs.FsHost.Cli;

/// <summary>`backupfs gc STORE`: PBS's mark and sweep, safe against concurrent backups.</summary>
public static class GcCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var cutoff = new Option<long?>("--cutoff-seconds") { Description = "keep unreferenced chunks used within this many seconds (default PBS's 24 h 5 min)" }.AtLeast(0L);
        var noAtimeCheck = new Option<bool>("--no-atime-check") { Description = "skip the check that the file system updates access times" };
        var wait = new Option<int>("--wait") { Description = "seconds to wait while another process (BackupFs or PBS) runs a backup or GC on the store (default 0: refuse at once, as PBS does)" };
        var command = new Command("gc", "garbage collection: remove chunks no snapshot references") { store, cutoff, noAtimeCheck, wait, s3Timeout };
        command.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.OpenForWriting(parse.GetValue(store)!, "gc", StoreOpener.WithTimeout(parse.GetValue(s3Timeout)));
            var options = new GcOptions
            {
                AtimeCutoff = parse.GetValue(cutoff) is long s ? TimeSpan.FromSeconds(s) : GcCutoff.DefaultAtimeCutoff,
                AtimeSafetyCheck = !parse.GetValue(noAtimeCheck),
                Progress = new MaintenanceProgressPrinter(parse.InvocationConfiguration.Error),
            };
            var st = await RunWaitingAsync(new GarbageCollector(ds, options), TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(wait))), ct);
            var o = parse.InvocationConfiguration.Output;
            o.WriteLine($"index files: {st.IndexFileCount} ({ProgressLine.Format(st.IndexDataBytes)} of data referenced)");
            o.WriteLine($"removed: {st.RemovedChunks} chunks, {ProgressLine.Format(st.RemovedBytes)}{(st.RemovedBad > 0 ? $" ({st.RemovedBad} bad)" : "")}");
            o.WriteLine($"pending: {st.PendingChunks} chunks, {ProgressLine.Format(st.PendingBytes)} (used after the cutoff by a running backup)");
            o.WriteLine($"kept: {st.DiskChunks} chunks, {ProgressLine.Format(st.DiskBytes)}");
            if (st.MissingChunks > 0) o.WriteLine($"warning: {st.MissingChunks} referenced chunks are missing (run verify)");
            S3Usage.Report(ds, parse.InvocationConfiguration.Error);
            return 0;
        });
        return command;
    }

    // The exclusive process lock is refused while any other process backs up; retry until the deadline.
    private static async Task<GarbageCollectionStatus> RunWaitingAsync(GarbageCollector gc, TimeSpan patience, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            try { return await gc.RunAsync(ct); }
            catch (LockBusyException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
            }
        }
    }
}
