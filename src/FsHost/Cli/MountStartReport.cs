using System.Runtime.InteropServices;
using BackupFs.Datastore.Formats;
using BackupFs.FsHost.Fuse.Interop;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// How the detached process of a background mount tells the waiting `backupfs mount` whether it
/// started: one line, "ready" or "error: &lt;message&gt;", on a pipe, which it then closes. The pipe is
/// the child's original stdout, kept on a descriptor of its own (close-on-exec, so helpers such as
/// fusermount3 do not hold it) before stdout moves to the log. A child that dies without a word
/// closes the pipe too, so the parent never waits on a dead process or reads the log to guess.
/// </summary>
public sealed class MountStartReport : IDisposable
{
    /// <summary>Names the descriptor the report goes to, in the child's environment.</summary>
    public const string FdVariable = "BACKUPFS_MOUNT_STATUS_FD";

    private const string ReadyLine = "ready", ErrorPrefix = "error: ";
    private const int FDupFdCloexec = 1030; // F_DUPFD_CLOEXEC
    private Stream? _pipe;

    internal MountStartReport(Stream pipe) => _pipe = pipe;

    /// <summary>In the child of a background mount: the report channel (null in any other process).</summary>
    public static MountStartReport? FromEnvironment()
    {
        if (Environment.GetEnvironmentVariable(FdVariable) is not { } text) return null;
        Environment.SetEnvironmentVariable(FdVariable, null); // not for anything this process starts
        if (!int.TryParse(text, out int fd) || fd < 0) throw new BackupFsException($"{FdVariable} is not a file descriptor: '{text}'");
        // A copy above stdio: the original descriptor is about to become the log.
        int copy = LibC.Fcntl(fd, FDupFdCloexec, 3);
        if (copy < 0) throw new BackupFsException($"cannot keep the start report descriptor {fd}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return new MountStartReport(new FileStream(new SafeFileHandle(copy, ownsHandle: true), FileAccess.Write, 1));
    }

    /// <summary>
    /// Runs a mount command; in the child of a background mount, a failure before it reported ready
    /// goes to the parent as well (the log gets it through the usual error line).
    /// </summary>
    public static async Task<int> RunAsync(Func<MountStartReport?, Task<int>> mount)
    {
        using var report = FromEnvironment();
        try { return await mount(report).ConfigureAwait(false); }
        catch (Exception e) when (report is not null)
        {
            report.ReportFailure(UserFacingError.Describe(e));
            throw;
        }
    }

    /// <summary>The mount is usable: the parent returns 0.</summary>
    public void ReportReady() => Send(ReadyLine);

    /// <summary>The start failed: the parent prints this as its own one-line error and exits 1.</summary>
    public void ReportFailure(string message) => Send(ErrorPrefix + message.ReplaceLineEndings(" ").Trim());

    /// <summary>What the parent learnt: mounted, the child's error, or neither (it ended without a word).</summary>
    public readonly record struct Outcome(bool Mounted, string? Error);

    /// <summary>In the parent: waits for the child's line, or for the pipe to close without one.</summary>
    public static async Task<Outcome> AwaitAsync(TextReader pipe, CancellationToken ct)
    {
        var line = await pipe.ReadLineAsync(ct).ConfigureAwait(false);
        if (line == ReadyLine) return new Outcome(true, null);
        if (line is null) return new Outcome(false, null);
        return new Outcome(false, line.StartsWith(ErrorPrefix, StringComparison.Ordinal) ? line[ErrorPrefix.Length..] : $"the mount process reported '{line}'");
    }

    /// <summary>The first report wins; later ones (and a parent that went away) are ignored.</summary>
    private void Send(string line)
    {
        var pipe = Interlocked.Exchange(ref _pipe, null);
        if (pipe is null) return;
        try
        {
            pipe.Write(System.Text.Encoding.UTF8.GetBytes(line + "\n"));
            pipe.Flush();
        }
        catch (IOException) { }
        finally { pipe.Dispose(); }
    }

    public void Dispose() => Interlocked.Exchange(ref _pipe, null)?.Dispose();
}
