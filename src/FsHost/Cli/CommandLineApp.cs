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
        // Looked up when needed: a background mount moves its stderr to a log once it runs.
        TextWriter Err() => error ?? Console.Error;
        try
        {
            var parsed = Build().Parse(args);
            if (parsed.Errors.Count > 0)
            {
                // One line, like every other error (System.CommandLine would add the whole help text).
                var messages = string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')).Distinct());
                Err().WriteLine($"error: {messages} (see '{CommandPath(parsed.CommandResult)} --help')");
                return 1;
            }
            return await parsed.InvokeAsync(config);
        }
        catch (Exception e)
        {
            Err().WriteLine("error: " + UserFacingError.Describe(e));
            if (Environment.GetEnvironmentVariable("BACKUPFS_DEBUG") is { Length: > 0 }) Err().WriteLine(e);
            return 1;
        }
    }

    private static string CommandPath(System.CommandLine.Parsing.CommandResult command)
    {
        var names = new List<string>();
        for (System.CommandLine.Parsing.SymbolResult? r = command; r is not null; r = r.Parent)
            if (r is System.CommandLine.Parsing.CommandResult c && c.Parent is not null) names.Add(c.Command.Name);
        names.Add("backupfs");
        names.Reverse();
        return string.Join(' ', names);
    }
}

/// <summary>
/// Turns every failure into one plain line: BackupFs's own errors and file-system errors say what went
/// wrong; anything else is a bug, reported as such without .NET's exception text (BACKUPFS_DEBUG=1 adds
/// the stack trace on the following lines).
/// </summary>
public static class UserFacingError
{
    public static string Describe(Exception e) => OneLine(e switch
    {
        AggregateException { InnerExceptions.Count: 1 } a => Describe(a.InnerException!),
        BackupFsException b => b.Message,
        OperationCanceledException => "cancelled",
        UnauthorizedAccessException u => u.Message,
        IOException io => io.Message,
        OutOfMemoryException => "out of memory",
        _ => $"internal error ({e.GetType().Name}); this is a bug in BackupFs, please report it (set BACKUPFS_DEBUG=1 for details)",
    });

    private static string OneLine(string message)
    {
        var line = message.ReplaceLineEndings(" ").Trim();
        return line.StartsWith("error: ", StringComparison.Ordinal) ? line[7..] : line;
    }
}
