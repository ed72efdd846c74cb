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
        yield return MountCommand.Create();
        yield return UmountCommand.Create();
        yield return CommitCommand.Create();
        yield return PruneCommands.Prune();
        yield return PruneCommands.Forget();
        yield return GcCommand.Create();
        yield return VerifyCommand.Create();
        yield return KeyCommands.Create();
        yield return AdminCommands.Protect(protect: true);
        yield return AdminCommands.Protect(protect: false);
        yield return AdminCommands.Owner();
        yield return AdminCommands.Namespaces();
        yield return S3Commands.Create();
    }
}
