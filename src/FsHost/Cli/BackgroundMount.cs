using System.Diagnostics;
using BackupFs.Datastore.Formats;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// Starts a checked mount as a detached process: this command again with --foreground, in a new
/// session (setsid), its output in a private log (see <see cref="MountLog"/>). Waits for the child's
/// <see cref="MountStartReport"/> and ends as it says: 0 once mounted, else the child's own error.
/// </summary>
public static class BackgroundMount
{
    /// <summary>Names the log the child moves its stdout and stderr to.</summary>
    public const string LogFileVariable = "BACKUPFS_MOUNT_LOG";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> StartAsync(string mnt, TextWriter output, IReadOnlyList<byte[]> passphrases, CancellationToken ct)
    {
        var args = Environment.GetCommandLineArgs();
        var self = Environment.ProcessPath ?? throw new BackupFsException("cannot find the backupfs executable");
        var command = new List<string> { self };
        // Under "dotnet backupfs.dll" the first argument is the assembly to run.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") command.Add(args[0]);
        command.AddRange(args.Skip(1));
        command.Add("--foreground");
        // The log lives in the user's private log directory (see MountLog): nothing at a predictable
        // /tmp path, and no shell redirection that would follow a planted symlink.
        var log = MountLog.Create();
        // The child's stdio are pipes to us, never our own stdio: a shell or CI reading our output must
        // not wait for the mount process, which lives on after we return. Its stdout is the start
        // report; it moves stdout and stderr to the log before it writes anything else.
        var start = new ProcessStartInfo("setsid")
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
        };
        foreach (var a in command) start.ArgumentList.Add(a);
        start.Environment[MountStartReport.FdVariable] = "1";
        start.Environment[LogFileVariable] = log;
        if (passphrases.Count > 0)
        {
            // Key passphrases travel on the stdin pipe (never argv, environment or disk).
            start.Environment[KeyOptions.ChildPassphrasesFdVariable] = "0";
            start.Environment.Remove(PassphraseSource.FdVariable); // that descriptor is not the child's
        }
        // A mount lives long: compile everything optimised at once instead of starting on tier-0
        // code (a first `find` over 100k files took 2.2 s with tiering, 1.3 s without).
        start.Environment["DOTNET_TieredCompilation"] = "0";
        using var child = Start(start);
        foreach (var p in passphrases)
        {
            child.StandardInput.Write(System.Text.Encoding.UTF8.GetString(p));
            child.StandardInput.Write('\n');
        }
        child.StandardInput.Close();
        // Only what the child says before its stderr moves to the log: a runtime that could not start.
        var early = child.StandardError.ReadToEndAsync(ct);

        MountStartReport.Outcome outcome;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            deadline.CancelAfter(StartTimeout);
            try { outcome = await MountStartReport.AwaitAsync(child.StandardOutput, deadline.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new BackupFsException($"the mount did not become ready within {StartTimeout.TotalSeconds:0} s (log: {log})");
            }
        }
        if (outcome.Mounted)
        {
            output.WriteLine($"mounted at {mnt} (log: {log}); unmount with: backupfs umount {mnt}");
            return 0;
        }
        if (outcome.Error is { } error) throw new BackupFsException(error);
        var said = await EarlyOutputAsync(early);
        throw new BackupFsException($"the mount process ended without mounting{(said.Length > 0 ? ": " + said : "")} (log: {log})");
    }

    private static Process Start(ProcessStartInfo start)
    {
        try { return Process.Start(start) ?? throw new BackupFsException("could not start the mount process"); }
        catch (System.ComponentModel.Win32Exception e) { throw new BackupFsException($"could not start the mount process ({start.FileName}): {e.Message}"); }
    }

    private static async Task<string> EarlyOutputAsync(Task<string> early)
    {
        try { return (await early.WaitAsync(TimeSpan.FromSeconds(2))).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? ""; }
        catch (Exception e) when (e is TimeoutException or IOException or OperationCanceledException) { return ""; }
    }
}
