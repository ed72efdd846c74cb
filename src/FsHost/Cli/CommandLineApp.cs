using System.CommandLine;
using BackupFs.Datastore.Formats;

namespace BackupFs.FsHost.Cli;

/// <summary>The `backupfs` command tree and its error policy: user mistakes and datastore faults
/// print one "error: …" line and exit 1, never a stack trace.</summary>
public static class CommandLineApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("BackupFs: Proxmox Backup Server datastores (local or S3) as a filesystem");
        foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var config = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (output is not null) config.Output = output;
        if (error is not null) config.Error = error;
        var err = error ?? Console.Error;
        try
        {
            return await Build().Parse(args).InvokeAsync(config);
        }
        catch (Exception e) when (UserFacingError.Describe(e) is { } message)
        {
            err.WriteLine("error: " + message);
            return 1;
        }
    }
}

/// <summary>Turns known failures into one readable line; unknown ones keep their stack trace.</summary>
public static class UserFacingError
{
    public static string? Describe(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: 1 } a => Describe(a.InnerException!),
        BackupFsException b => b.Message,
        OperationCanceledException => "cancelled",
        UnauthorizedAccessException u => u.Message,
        DirectoryNotFoundException d => d.Message,
        FileNotFoundException f => f.Message,
        IOException io => io.Message,
        _ => null,
    };
}
