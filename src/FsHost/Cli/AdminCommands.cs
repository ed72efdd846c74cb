using System.CommandLine;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;

namespace BackupFs.FsHost.Cli;

/// <summary>`protect`, `unprotect`, `owner` and `ns create|remove|list`.</summary>
public static class AdminCommands
{
    public static Command Protect(bool protect)
    {
        var store = CommonOptions.Store();
        var snapshot = CommonOptions.Snapshot();
        var ns = CommonOptions.Namespace();
        var command = new Command(protect ? "protect" : "unprotect",
            protect ? "protect a snapshot from prune and forget" : "remove a snapshot's protection") { store, snapshot, ns };
        command.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.OpenForWriting(parse.GetValue(store)!, protect ? "protect" : "unprotect");
            var snap = BackupPathArgument.Resolve(ds, parse.GetValue(snapshot)!, parse.GetValue(ns));
            bool changed = await SnapshotProtection.SetAsync(ds, snap, protect, ct);
            parse.InvocationConfiguration.Output.WriteLine($"{snap} {(protect ? "protected" : "unprotected")}{(changed ? "" : " (unchanged)")}");
            return 0;
        });
        return command;
    }

    public static Command Owner()
    {
        var store = CommonOptions.Store();
        var group = CommonOptions.Group();
        var owner = new Argument<string?>("NEW_OWNER") { Description = "new owner (e.g. backup@pbs); omit to show", Arity = ArgumentArity.ZeroOrOne };
        var ns = CommonOptions.Namespace();
        var command = new Command("owner", "show or set a group's owner") { store, group, owner, ns };
        command.SetAction(async (parse, ct) =>
        {
            var ds = parse.GetValue(owner) is null ? StoreOpener.Open(parse.GetValue(store)!) : StoreOpener.OpenForWriting(parse.GetValue(store)!, "owner");
            var g = BackupPathArgument.Group(parse.GetValue(group)!, parse.GetValue(ns));
            if (!ds.GroupExists(g)) throw new Datastore.Formats.BackupFsException($"group {g} does not exist");
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetValue(owner) is { } newOwner)
            {
                await GroupOwnership.SetAsync(ds, g, newOwner, ct);
                o.WriteLine($"{g}: owner {newOwner}");
            }
            else o.WriteLine(GroupOwnership.Get(ds, g) ?? "(no owner)");
            return 0;
        });
        return command;
    }

    public static Command Namespaces()
    {
        var ns = new Command("ns", "namespaces: create, remove, list");
        var store = CommonOptions.Store();
        var name = new Argument<string>("NAME") { Description = "namespace, e.g. team/a" };
        var create = new Command("create", "create a namespace (its parent must exist)") { store, name };
        create.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.OpenForWriting(parse.GetValue(store)!, "ns create");
            await NamespaceAdmin.CreateAsync(ds, BackupPathArgument.Namespace(parse.GetValue(name), "NAME"), ct);
            parse.InvocationConfiguration.Output.WriteLine($"created namespace {parse.GetValue(name)}");
            return 0;
        });
        var store2 = CommonOptions.Store();
        var name2 = new Argument<string>("NAME") { Description = "namespace, e.g. team/a" };
        var recursive = new Option<bool>("--recursive") { Description = "also remove its groups, snapshots and child namespaces (protected snapshots stay)" };
        var remove = new Command("remove", "remove a namespace (empty unless --recursive)") { store2, name2, recursive };
        remove.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.OpenForWriting(parse.GetValue(store2)!, "ns remove");
            var target = BackupPathArgument.Namespace(parse.GetValue(name2), "NAME");
            var r = await NamespaceAdmin.RemoveAsync(ds, target, parse.GetValue(recursive), ct);
            var o = parse.InvocationConfiguration.Output;
            foreach (var n in r.RemovedNamespaces) o.WriteLine($"removed namespace {n.Display}");
            o.WriteLine($"removed {r.RemovedSnapshots} snapshot(s) in {r.RemovedGroups} group(s)");
            foreach (var s in r.KeptProtected) o.WriteLine($"kept protected snapshot {s}");
            if (!r.RemovedNamespaces.Contains(target))
                o.WriteLine($"namespace {target.Display} was kept: it still holds protected snapshots or entries that are not part of a datastore");
            return 0;
        });
        var store3 = CommonOptions.Store();
        var list = new Command("list", "list every namespace") { store3 };
        list.SetAction(parse =>
        {
            var ds = StoreOpener.Open(parse.GetValue(store3)!);
            foreach (var n in ds.ListNamespaces(BackupNamespace.Root, recursive: true))
                parse.InvocationConfiguration.Output.WriteLine(n.Display);
            return 0;
        });
        ns.Subcommands.Add(create);
        ns.Subcommands.Add(remove);
        ns.Subcommands.Add(list);
        return ns;
    }
}
