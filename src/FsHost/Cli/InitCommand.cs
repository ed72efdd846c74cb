using System.CommandLine;
using BackupFs.Datastore.Layout;

namespace BackupFs.FsHost.Cli;

/// <summary>`backupfs init STORE`: create an empty datastore in PBS's layout.</summary>
public static class InitCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var command = new Command("init", "create an empty datastore (PBS layout: .chunks/0000…ffff)") { store };
        command.SetAction(parse =>
        {
            var ds = DataStore.CreateLocal(parse.GetValue(store)!);
            parse.InvocationConfiguration.Output.WriteLine($"created datastore {ds.Root}");
            return 0;
        });
        return command;
    }
}
