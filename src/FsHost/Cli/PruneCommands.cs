using System.CommandLine;
using BackupFs.Datastore.Maintenance;

namespace BackupFs.FsHost.Cli;

/// <summary>`backupfs prune STORE GROUP --keep-…` (PBS's retention rules) and `backupfs forget STORE SNAPSHOT`.</summary>
public static class PruneCommands
{
    public static Command Prune()
    {
        var store = CommonOptions.Store();
        var group = CommonOptions.Group();
        var ns = CommonOptions.Namespace();
        var last = new Option<int?>("--keep-last") { Description = "keep the newest N snapshots" }.AtLeast(1);
        var hourly = new Option<int?>("--keep-hourly") { Description = "keep the newest snapshot of each of the last N hours" }.AtLeast(1);
        var daily = new Option<int?>("--keep-daily") { Description = "… of each of the last N days" }.AtLeast(1);
        var weekly = new Option<int?>("--keep-weekly") { Description = "… of each of the last N ISO weeks" }.AtLeast(1);
        var monthly = new Option<int?>("--keep-monthly") { Description = "… of each of the last N months" }.AtLeast(1);
        var yearly = new Option<int?>("--keep-yearly") { Description = "… of each of the last N years" }.AtLeast(1);
        var dryRun = new Option<bool>("--dry-run") { Description = "show what would be removed, remove nothing" };
        var command = new Command("prune", "remove the snapshots of a group that PBS's keep rules do not keep (protected ones always stay)")
            { store, group, ns, last, hourly, daily, weekly, monthly, yearly, dryRun };
        command.SetAction(async (parse, ct) =>
        {
            var ds = parse.GetValue(dryRun) ? StoreOpener.Open(parse.GetValue(store)!) : StoreOpener.OpenForWriting(parse.GetValue(store)!, "prune");
            var g = BackupPathArgument.Group(parse.GetValue(group)!, parse.GetValue(ns));
            var options = new KeepOptions(parse.GetValue(last), parse.GetValue(hourly), parse.GetValue(daily),
                parse.GetValue(weekly), parse.GetValue(monthly), parse.GetValue(yearly));
            var result = await new Pruner(ds).PruneAsync(g, options, parse.GetValue(dryRun), ct: ct);
            var output = parse.InvocationConfiguration.Output;
            foreach (var e in result.Entries)
                output.WriteLine($"{e.Snapshot.Snapshot.RelativePath}  {e.Mark.ToPbsName()}{(e.Removed ? " (removed)" : "")}");
            output.WriteLine(result.DryRun
                ? $"dry run: would keep {result.KeptCount}, remove {result.RemoveCount}"
                : $"kept {result.KeptCount}, removed {result.RemovedCount}");
            return 0;
        });
        return command;
    }

    public static Command Forget()
    {
        var store = CommonOptions.Store();
        var snapshot = CommonOptions.ExplicitSnapshot();
        var ns = CommonOptions.Namespace();
        var command = new Command("forget", "remove one snapshot, named with its time (not a protected one)") { store, snapshot, ns };
        command.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.OpenForWriting(parse.GetValue(store)!, "forget");
            var snap = BackupPathArgument.ExplicitSnapshot(parse.GetValue(snapshot)!, parse.GetValue(ns), "forget");
            await new Pruner(ds).ForgetAsync(snap, ct);
            parse.InvocationConfiguration.Output.WriteLine($"removed {snap}");
            return 0;
        });
        return command;
    }
}
