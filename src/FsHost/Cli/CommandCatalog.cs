using System.CommandLine;

namespace BackupFs.FsHost.Cli;

/// <summary>Every subcommand, in the order `backupfs --help` lists them.</summary>
public static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return InitCommand.Create();
        yield return BackupCommand.Create();
        yield return SnapshotsCommand.Create();
        yield return RestoreCommand.Create();
        yield return CatCommand.Create();
    }
}
