using System.CommandLine;
using System.Diagnostics;
using BackupFs.Datastore.Formats;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Tree;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// `backupfs mount STORE MOUNTPOINT`: the datastore as a tree, read-only except staging/ (writes
/// there become snapshots). Runs in the background
/// by default (a detached child process; this one returns once the mount is usable), or in the
/// foreground with -f until unmounted, SIGINT or SIGTERM.
/// </summary>
public static class MountCommand
{
    private const string ReadyFileVariable = "BACKUPFS_MOUNT_READY_FILE";

    public static Command Create()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "an existing, empty directory" };
        var foreground = new Option<bool>("--foreground", "-f") { Description = "stay in the foreground until unmounted (Ctrl-C unmounts)" };
        var allowOther = new Option<bool>("--allow-other") { Description = "let other users access the mount (FUSE allow_other)" };
        var autoUnmount = new Option<bool>("--auto-unmount") { Description = "unmount even if this process is killed (through fusermount3)" };
        var cacheMb = new Option<int>("--cache-mb") { Description = "memory for decoded chunks, in MiB", DefaultValueFactory = _ => 64 };
        var readahead = new Option<int>("--readahead-chunks") { Description = "chunks fetched ahead of a sequential reader", DefaultValueFactory = _ => 6 };
        var raw = new Option<bool>("--raw") { Description = "also show each pxar archive's raw stream as <archive>.raw" };
        var force = new Option<bool>("--force") { Description = "clear a stale mount (\"Transport endpoint is not connected\") at MOUNTPOINT first" };
        var threads = new Option<int>("--threads") { Description = "FUSE reader threads", DefaultValueFactory = _ => 8 };
        var commitDelay = new Option<double>("--commit-delay")
        {
            Description = "seconds a staging session must be idle (no file open for writing, no change) before it is committed as a snapshot",
            DefaultValueFactory = _ => 5,
        };
        var readOnly = new Option<bool>("--read-only") { Description = "no staging: the whole mount is read-only" };
        var writeThrough = new Option<bool>("--write-through")
        {
            Description = "send every write(2) in staging to the spool at once instead of through the kernel's writeback cache "
                + "(slower; data survives a crash of the mount before close/fsync too)",
        };
        var noWarmup = new Option<bool>("--no-warmup")
        {
            Description = "skip compiling the read paths on a tiny throwaway datastore before mounting (the mount is ready ~0.5 s sooner; the first walk is slower)",
        };
        var command = new Command("mount", "mount a datastore as a directory tree (FUSE): snapshots read-only, staging/ writable")
            { store, mountPoint, foreground, allowOther, autoUnmount, cacheMb, readahead, raw, force, threads, commitDelay, readOnly, writeThrough, noWarmup, s3Timeout };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var mnt = Path.GetFullPath(parse.GetValue(mountPoint)!);
            if (MountTable.IsStale(mnt))
            {
                if (!parse.GetValue(force))
                    throw new BackupFsException($"{mnt} is a stale mount (Transport endpoint is not connected): run 'backupfs umount {mnt}' or mount with --force");
                MountTable.ClearStale(mnt);
            }
            else if (MountTable.IsFuseMounted(mnt)) throw new BackupFsException($"{mnt} is already mounted");
            if (!Directory.Exists(mnt)) throw new BackupFsException($"mount point {mnt} does not exist");

            if (!parse.GetValue(foreground)) return await StartInBackgroundAsync(mnt, output, ct);

            var ds = StoreOpener.Open(parse.GetValue(store)!, new S3.S3OpenOptions
            {
                TimeoutSeconds = parse.GetValue(s3Timeout),
                OutageLog = m => Console.Error.WriteLine("backupfs: " + m),
            });
            if (!parse.GetValue(noWarmup)) await MountWarmup.RunAsync(ct);
            using var chunks = StoreOpener.ChunkSource(ds, parse.GetValue(cacheMb) * 1024L * 1024);
            var delay = parse.GetValue(commitDelay);
            if (delay < 0 || double.IsNaN(delay)) throw new BackupFsException("--commit-delay must be 0 or more seconds");
            StagingArea? staging = null;
            if (!parse.GetValue(readOnly))
            {
                staging = new StagingArea(new StagingContext(ds, chunks, new StagingOptions { CommitDelay = TimeSpan.FromSeconds(delay) }, m => Console.Error.WriteLine(m)));
                await staging.RecoverAsync(ct);
            }
            using var fs = new BackupTreeFileSystem(ds, chunks, new TreeOptions
            {
                ReadaheadChunks = parse.GetValue(readahead),
                ShowRawArchives = parse.GetValue(raw),
            }, staging: staging);
            using var session = FuseSession.Mount(fs,
                new FuseMountOptions(mnt)
                {
                    AllowOther = parse.GetValue(allowOther),
                    // Only other users need the kernel to check permissions: the owner can read the datastore anyway,
                    // and without the check the kernel skips a GETATTR of the directory after every change in it.
                    DefaultPermissions = parse.GetValue(allowOther),
                    AutoUnmount = parse.GetValue(autoUnmount),
                    ClearStaleMount = parse.GetValue(force),
                },
                new FuseSessionOptions
                {
                    ReaderThreads = parse.GetValue(threads),
                    WritebackCache = staging is not null && !parse.GetValue(writeThrough),
                    Log = m => Console.Error.WriteLine(m),
                });
            using var signals = session.HandleTerminationSignals();
            await session.Ready.WaitAsync(TimeSpan.FromSeconds(30), ct);
            output.WriteLine($"mounted {ds.Root} at {mnt}");
            if (Environment.GetEnvironmentVariable(ReadyFileVariable) is { Length: > 0 } ready) File.WriteAllText(ready, "ok");
            await session.Completion;
            return 0;
        });
        return command;
    }

    /// <summary>Re-runs this command detached (new session, output to a log file) and waits until it has mounted.</summary>
    private static async Task<int> StartInBackgroundAsync(string mnt, TextWriter output, CancellationToken ct)
    {
        var args = Environment.GetCommandLineArgs();
        var self = Environment.ProcessPath ?? throw new BackupFsException("cannot find the backupfs executable");
        var command = new List<string> { self };
        // Under "dotnet backupfs.dll" the first argument is the assembly to run.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") command.Add(args[0]);
        command.AddRange(args.Skip(1));
        command.Add("--foreground");
        var ready = Path.Combine(Path.GetTempPath(), $"backupfs-ready-{Guid.NewGuid():N}");
        var log = Path.Combine(Path.GetTempPath(), $"backupfs-mount-{Environment.ProcessId}.log");
        // A new session (setsid) with its own stdio: a shell or CI reading our output must not
        // wait for the mount process, which lives on after we return.
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true };
        foreach (var a in new[] { "sh", "-c", $"exec {string.Join(' ', command.Select(Quote))} </dev/null >{Quote(log)} 2>&1" })
            start.ArgumentList.Add(a);
        start.Environment[ReadyFileVariable] = ready;
        // A mount lives long: compile everything optimised at once instead of starting on tier-0
        // code (a first `find` over 100k files took 2.2 s with tiering, 1.3 s without).
        start.Environment["DOTNET_TieredCompilation"] = "0";
        using var child = Process.Start(start) ?? throw new BackupFsException("could not start the mount process");
        child.StandardInput.Close();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(ready))
            {
                File.Delete(ready);
                output.WriteLine($"mounted at {mnt} (log: {log}); unmount with: backupfs umount {mnt}");
                return 0;
            }
            if (child.HasExited && !MountTable.IsFuseMounted(mnt))
            {
                var text = File.Exists(log) ? File.ReadAllText(log).Trim() : "";
                throw new BackupFsException(text.Length > 0 ? text.Replace("error: ", "") : "the mount process ended without mounting");
            }
            await Task.Delay(50, ct);
        }
        throw new BackupFsException($"the mount did not become ready within 60 s (log: {log})");
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}

/// <summary>`backupfs umount MOUNTPOINT`: unmount (lazily), also a stale mount left by a killed process.</summary>
public static class UmountCommand
{
    public static Command Create()
    {
        var mountPoint = new Argument<string>("MOUNTPOINT");
        var command = new Command("umount", "unmount a BackupFs mount (also clears a stale one)") { mountPoint };
        command.SetAction(parse =>
        {
            var mnt = Path.GetFullPath(parse.GetValue(mountPoint)!);
            bool stale = MountTable.IsStale(mnt);
            if (!FuseMounter.Unmount(mnt)) throw new BackupFsException($"nothing is mounted at {mnt}");
            parse.InvocationConfiguration.Output.WriteLine(stale ? $"cleared stale mount {mnt}" : $"unmounted {mnt}");
            return 0;
        });
        return command;
    }
}
