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
    private const string LogFileVariable = "BACKUPFS_MOUNT_LOG";

    public static Command Create()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "an existing, empty directory" };
        var foreground = new Option<bool>("--foreground", "-f") { Description = "stay in the foreground until unmounted (Ctrl-C unmounts)" };
        var allowOther = new Option<bool>("--allow-other") { Description = "let other users access the mount (FUSE allow_other)" };
        var autoUnmount = new Option<bool>("--auto-unmount") { Description = "unmount even if this process is killed (through fusermount3)" };
        var cacheMb = new Option<int>("--cache-mb") { Description = "memory for decoded chunks, in MiB", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var readahead = new Option<int>("--readahead-chunks") { Description = "chunks fetched ahead of a sequential reader", DefaultValueFactory = _ => 6 }.AtLeast(0);
        var raw = new Option<bool>("--raw") { Description = "also show each pxar archive's raw stream as <archive>.raw" };
        var imageMode = new Option<string>("--image-mode")
        {
            Description = "permissions (octal) of whole archives in the mount — images, raw streams, blobs — owned by the mounting user; "
                + "0444 lets every user of an --allow-other mount read them (files inside pxar archives keep their archived permissions)",
            DefaultValueFactory = _ => "0400",
        };
        var force = new Option<bool>("--force") { Description = "clear a stale mount (\"Transport endpoint is not connected\") at MOUNTPOINT first" };
        var threads = new Option<int>("--threads") { Description = "FUSE reader threads", DefaultValueFactory = _ => 8 }.AtLeast(1);
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
        var fuseUring = new Option<string>("--fuse-uring")
        {
            Description = "FUSE requests over io_uring (kernel 6.14+): auto = when the kernel offers it (fuse.enable_uring=Y), "
                + "on = also set fuse.enable_uring=Y first (root), off = always /dev/fuse (default)",
            DefaultValueFactory = _ => "off",
        }.AcceptOnlyFromAmong("auto", "on", "off");
        var passthrough = new Option<bool>("--passthrough")
        {
            Description = "offer FUSE passthrough (kernel 6.9+, root) for staged files; replaces the kernel's writeback cache",
        };
        var dirCacheTime = new Option<double>("--s3-dir-cache-time")
        {
            Description = "S3 stores: seconds a directory listing from the bucket is trusted before it is listed again when looked at (new and pruned snapshots show after at most this long; 0 = every time)",
            DefaultValueFactory = _ => 60,
        };
        var noWarmup = new Option<bool>("--no-warmup")
        {
            Description = "skip compiling the read paths on a tiny throwaway datastore before mounting (the mount is ready ~0.5 s sooner; the first walk is slower)",
        };
        var keyFiles = KeyOptions.KeyFiles();
        keyFiles.Description += "; staging commits are encrypted with the first one";
        var command = new Command("mount", "mount a datastore as a directory tree (FUSE): snapshots read-only, staging/ writable")
            { store, mountPoint, foreground, allowOther, autoUnmount, cacheMb, readahead, raw, imageMode, force, threads, commitDelay, readOnly, writeThrough, noWarmup, keyFiles, dirCacheTime, s3Timeout, fuseUring, passthrough };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            uint wholeArchiveMode = ParseImageMode(parse.GetValue(imageMode)!);
            var mnt = Path.GetFullPath(parse.GetValue(mountPoint)!);
            if (MountTable.IsStale(mnt))
            {
                if (!parse.GetValue(force))
                    throw new BackupFsException($"{mnt} is a stale mount (Transport endpoint is not connected): run 'backupfs umount {mnt}' or mount with --force");
                MountTable.ClearStale(mnt);
            }
            else if (MountTable.IsFuseMounted(mnt)) throw new BackupFsException($"{mnt} is already mounted");
            if (!Directory.Exists(mnt)) throw new BackupFsException($"mount point {mnt} does not exist");

            var keyPaths = parse.GetValue(keyFiles) ?? [];
            if (!parse.GetValue(foreground))
            {
                // Passphrases are asked for here (the detached child has no terminal) and handed over on a pipe.
                var passphrases = KeyOptions.CollectPassphrases(keyPaths);
                try { return await StartInBackgroundAsync(mnt, output, passphrases, ct); }
                finally { foreach (var p in passphrases) Array.Clear(p); }
            }
            // Read before stdio moves to the log: the parent hands passphrases over on our stdin.
            var handedOver = KeyOptions.HandedOverPassphrases();
            if (Environment.GetEnvironmentVariable(LogFileVariable) is { Length: > 0 } logFile)
            {
                MountLog.RedirectStdio(logFile); // started in the background: stdout/stderr into the log the parent made
                Environment.SetEnvironmentVariable(LogFileVariable, null);
                output = Console.Out;
            }

            var keys = KeyOptions.Load(keyPaths, handedOver);
            foreach (var k in keys.Keys) Console.Error.WriteLine($"Encryption key fingerprint: {k.Fingerprint.Short}");
            var (ds, s3) = StoreOpener.OpenS3Aware(parse.GetValue(store)!, new S3.S3OpenOptions
            {
                ReadOnly = parse.GetValue(readOnly),
                TimeoutSeconds = parse.GetValue(s3Timeout),
                OutageLog = m => Console.Error.WriteLine("backupfs: " + m),
            });
            // A reader host never writes: no staging, and the bucket client refuses writes anyway.
            bool readOnlyMount = parse.GetValue(readOnly) || s3 is { IsReader: true };
            if (!parse.GetValue(noWarmup)) await MountWarmup.RunAsync(ct);
            long cacheBytes = parse.GetValue(cacheMb) * 1024L * 1024;
            using var chunks = StoreOpener.ChunkSource(ds, cacheBytes);
            using var chunkSources = StoreOpener.ChunkSources(ds, chunks, cacheBytes);
            var delay = parse.GetValue(commitDelay);
            if (delay < 0 || double.IsNaN(delay)) throw new BackupFsException("--commit-delay must be 0 or more seconds");
            StagingArea? staging = null;
            if (!readOnlyMount)
            {
                staging = new StagingArea(new StagingContext(ds, chunks, new StagingOptions
                {
                    CommitDelay = TimeSpan.FromSeconds(delay),
                    // One write key per mount: the first --keyfile encrypts every staging commit.
                    WriteKey = keys.Keys.Count > 0 ? keys.Keys[0] : null,
                    Keys = keys,
                    ChunkSources = chunkSources,
                }, m => Console.Error.WriteLine(m)));
                await staging.RecoverAsync(ct);
            }
            using var fs = DatastoreTree.Create(ds, chunks, new TreeOptions
            {
                ReadaheadChunks = parse.GetValue(readahead),
                ShowRawArchives = parse.GetValue(raw),
                ImageMode = wholeArchiveMode,
                Keys = keys,
            }, staging: staging, chunkSources: chunkSources, follower: Follower(s3, parse.GetValue(dirCacheTime)));
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
                    Passthrough = staging is not null && parse.GetValue(passthrough),
                    IoUring = parse.GetValue(fuseUring) switch { "on" => FuseIoUring.On, "off" => FuseIoUring.Off, _ => FuseIoUring.Auto },
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

    /// <summary>An octal mode such as 0400 or 440; only read bits make sense for read-only files.</summary>
    internal static uint ParseImageMode(string text)
    {
        try
        {
            uint mode = Convert.ToUInt32(text, 8);
            if ((mode & ~0x124u) == 0) return mode; // read bits only: the files are read-only
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { }
        throw new BackupFsException($"--image-mode must be octal read permissions such as 0400, 0440 or 0444, not '{text}'");
    }

    /// <summary>An S3 store's mount follows its bucket (listings with a time-to-live); a local one reads its directory.</summary>
    private static S3.Following.S3MetadataFollower? Follower(S3.S3Datastore? s3, double seconds)
    {
        if (s3 is null) return null;
        if (seconds < 0 || double.IsNaN(seconds)) throw new BackupFsException("--s3-dir-cache-time must be 0 or more seconds");
        return new S3.Following.S3MetadataFollower(s3.Client, s3.Layout, s3.CacheRoot, TimeSpan.FromSeconds(seconds), m => Console.Error.WriteLine("backupfs: " + m));
    }

    /// <summary>Re-runs this command detached (new session, output to a log file) and waits until it has mounted.</summary>
    private static async Task<int> StartInBackgroundAsync(string mnt, TextWriter output, IReadOnlyList<byte[]> passphrases, CancellationToken ct)
    {
        var args = Environment.GetCommandLineArgs();
        var self = Environment.ProcessPath ?? throw new BackupFsException("cannot find the backupfs executable");
        var command = new List<string> { self };
        // Under "dotnet backupfs.dll" the first argument is the assembly to run.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") command.Add(args[0]);
        command.AddRange(args.Skip(1));
        command.Add("--foreground");
        // Both files live in the user's private log directory (see MountLog): nothing at a predictable
        // /tmp path, and no shell redirection that would follow a planted symlink.
        var log = MountLog.Create();
        var ready = Path.Combine(Path.GetDirectoryName(log)!, $"ready-{Guid.NewGuid():N}");
        // A new session (setsid) whose stdio are pipes we close at once: a shell or CI reading our output
        // must not wait for the mount process, which lives on after we return. The mount process itself
        // moves its stdout/stderr to the log before it writes anything.
        var start = new ProcessStartInfo("setsid")
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
        };
        foreach (var a in command) start.ArgumentList.Add(a);
        start.Environment[ReadyFileVariable] = ready;
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
        using var child = Process.Start(start) ?? throw new BackupFsException("could not start the mount process");
        foreach (var p in passphrases)
        {
            child.StandardInput.Write(System.Text.Encoding.UTF8.GetString(p));
            child.StandardInput.Write('\n');
        }
        foreach (var p in passphrases)
        {
            child.StandardInput.Write(System.Text.Encoding.UTF8.GetString(p));
            child.StandardInput.Write('\n');
        }
        child.StandardInput.Close();
        child.StandardOutput.Close();
        child.StandardError.Close();
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
                // The mount process's own one-line error, if it printed one; else the log's last line.
                var lines = MountLog.Tail(log).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var text = lines.LastOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal)) ?? lines.LastOrDefault() ?? "";
                throw new BackupFsException(text.Length > 0 ? text.Replace("error: ", "") : $"the mount process ended without mounting (log: {log})");
            }
            await Task.Delay(50, ct);
        }
        throw new BackupFsException($"the mount did not become ready within 60 s (log: {log})");
    }
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
