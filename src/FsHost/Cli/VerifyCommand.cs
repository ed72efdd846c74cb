using System.CommandLine;
using BackupFs.Datastore.Maintenance;

namespace BackupFs.FsHost.Cli;

/// <summary>`backupfs verify STORE [SNAPSHOT]`: read and check every chunk; corrupt ones are renamed to .N.bad.</summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var snapshot = new Argument<string?>("SNAPSHOT") { Description = "one snapshot (default: every snapshot of every namespace)", Arity = ArgumentArity.ZeroOrOne };
        var ns = CommonOptions.Namespace();
        var keyFile = KeyOptions.KeyFiles();
        var command = new Command("verify", "read every chunk of every index (bypassing caches) and check its digest; "
            + "encrypted snapshots without --keyfile: CRC, crypt mode, sizes and checksums only") { store, snapshot, ns, keyFile, s3Timeout };
        command.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.OpenForWriting(parse.GetValue(store)!, "verify", StoreOpener.WithTimeout(parse.GetValue(s3Timeout)));
            var keys = KeyOptions.Load(parse.GetValue(keyFile));
            var verifier = new Verifier(ds, new VerifyOptions { Progress = new MaintenanceProgressPrinter(parse.InvocationConfiguration.Error), Keys = keys });
            var one = parse.GetValue(snapshot);
            var report = one is null
                ? await verifier.VerifyAllAsync(ct)
                : await verifier.VerifySnapshotAsync(BackupPathArgument.Resolve(ds, one, parse.GetValue(ns)), ct);
            var o = parse.InvocationConfiguration.Output;
            foreach (var s in report.Snapshots)
            {
                var bad = s.CorruptChunks + s.MissingChunks > 0 ? $" ({s.CorruptChunks} corrupt, {s.MissingChunks} missing)" : "";
                o.WriteLine($"{s.Snapshot.RelativePath}  {s.Outcome.ToString().ToLowerInvariant()}  {s.Chunks} chunks{bad}");
                foreach (var e in s.Errors) o.WriteLine("    " + e);
                foreach (var n in s.Notes) o.WriteLine("    note: " + n);
            }
            foreach (var r in report.RenamedChunks) o.WriteLine($"renamed corrupt chunk {r.Digest} to {r.NewLocation}");
            o.WriteLine($"verified {report.Snapshots.Count} snapshots: {report.OkCount} ok, {report.FailedCount} failed, {report.SkippedCount} skipped; {report.DistinctChunksChecked} chunks, {ProgressLine.Format(report.DecodedBytes)}");
            S3Usage.Report(ds, parse.InvocationConfiguration.Error);
            return report.AllOk ? 0 : 2;
        });
        return command;
    }
}
