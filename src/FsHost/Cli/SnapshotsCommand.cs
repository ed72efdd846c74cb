using System.CommandLine;
using BackupFs.Datastore.Layout;

namespace BackupFs.FsHost.Cli;

/// <summary>`backupfs snapshots STORE [--ns]`: list finished snapshots with their archives.</summary>
public static class SnapshotsCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var ns = CommonOptions.Namespace();
        var all = new Option<bool>("--all-namespaces") { Description = "list every namespace below --ns too" };
        var command = new Command("snapshots", "list the finished snapshots of a namespace") { store, ns, all };
        command.SetAction(parse =>
        {
            var ds = StoreOpener.Open(parse.GetValue(store)!);
            var top = BackupPathArgument.Namespace(parse.GetValue(ns));
            if (!ds.NamespaceExists(top)) throw new Datastore.Formats.BackupFsException($"namespace '{top.Display}' does not exist");
            var namespaces = new List<BackupNamespace> { top };
            if (parse.GetValue(all)) namespaces.AddRange(ds.ListNamespaces(top, recursive: true));
            var output = parse.InvocationConfiguration.Output;
            foreach (var n in namespaces)
                foreach (var group in ds.ListGroups(n))
                    foreach (var info in ds.ListSnapshots(group).Where(s => s.Finished))
                        output.WriteLine($"{info.Snapshot.RelativePath}  {string.Join(' ', info.Files.Where(f => f != DataStore.ManifestName))}{(info.Protected ? "  (protected)" : "")}");
            return 0;
        });
        return command;
    }
}
