using System.CommandLine;

namespace BackupFs.FsHost.Cli;

/// <summary>`backupfs s3 check|refresh STORE`: connection test, and resync of the local cache store's metadata from the bucket.</summary>
public static class S3Commands
{
    public static Command Create()
    {
        var s3 = new Command("s3", "S3 datastore operations");
        s3.Subcommands.Add(Check());
        s3.Subcommands.Add(Refresh());
        return s3;
    }

    private static Command Check()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var readOnly = new Option<bool>("--read-only") { Description = "do not write a probe object" };
        var command = new Command("check", "test the connection, credentials and bucket access") { store, readOnly, s3Timeout };
        command.SetAction(async (parse, ct) =>
        {
            using var s3 = StoreOpener.OpenS3(parse.GetValue(store)!, StoreOpener.WithTimeout(parse.GetValue(s3Timeout)));
            var result = await s3.CheckAsync(!parse.GetValue(readOnly) && !s3.IsReader, ct);
            (result.Ok ? parse.InvocationConfiguration.Output : parse.InvocationConfiguration.Error)
                .WriteLine((result.Ok ? "ok: " : "error: ") + result.Message);
            return result.Ok ? 0 : 1;
        });
        return command;
    }

    private static Command Refresh()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var reader = new Option<bool>("--reader") { Description = "from now on this cache store belongs to a reader host: nothing here writes to the bucket" };
        var writer = new Option<bool>("--writer") { Description = "make a reader's cache store a writer's again (only on the host that owns the datastore)" };
        var command = new Command("refresh", "resync namespaces, groups, snapshots, indexes, manifests, owners and markers from the bucket (blocks other operations meanwhile)") { store, reader, writer, s3Timeout };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(reader) && parse.GetValue(writer)) throw new Datastore.Formats.BackupFsException("--reader and --writer exclude each other");
            if (parse.GetValue(reader) || parse.GetValue(writer))
            {
                StoreOpener.OpenS3(parse.GetValue(store)!).Dispose(); // an S3 store, with a valid config
                S3.S3Datastore.SetReader(parse.GetValue(store)!, parse.GetValue(reader));
            }
            using var s3 = StoreOpener.OpenS3(parse.GetValue(store)!, StoreOpener.WithTimeout(parse.GetValue(s3Timeout)));
            var r = await s3.RefreshAsync(ct);
            parse.InvocationConfiguration.Output.WriteLine($"refreshed: {r.Files} files, {r.Namespaces} namespaces{(r.Ignored > 0 ? $", {r.Ignored} keys ignored (see warnings)" : "")}");
            return 0;
        });
        return command;
    }
}
