using System.CommandLine;
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
        }.AtLeast(0.0);
        var prepareFrom = new Option<double>("--prepare-files-from")
        {
            Description = "staged files at least this many MiB are chunked and stored in the background once closed and quiet, "
                + "so a commit appends them instead of reading them again (0 = off)",
            DefaultValueFactory = _ => 4,
        }.AtLeast(0.0);
        var releaseSpoolPages = new Option<bool>("--release-spool-pages")
        {
            Description = "once a staged file is chunked in the background, write its spool file out and drop it from the page cache "
                + "(a long copy into staging then reuses that memory instead of growing the cache; costs the disk writes)",
        };
        var readOnly = new Option<bool>("--read-only") { Description = "no staging: the whole mount is read-only" };
        var writeThrough = new Option<bool>("--write-through")
        {
            Description = "send every write(2) in staging to the spool at once instead of through the kernel's writeback cache "
                + "(slower; data survives a crash of the mount before close/fsync too)",
        };
        var fuseUring = new Option<string>("--fuse-uring")
        {
            Description = "FUSE requests over io_uring (kernel 6.14+): auto = when the kernel offers it (fuse.enable_uring=Y; default), "
                + "on = also set fuse.enable_uring=Y first (root), off = always /dev/fuse",
            DefaultValueFactory = _ => "auto",
        }.AcceptOnlyFromAmong("auto", "on", "off");
        var passthrough = new Option<string>("--passthrough")
        {
            Description = "FUSE passthrough for staged files (kernel 6.9+): the kernel writes and reads spool files itself, "
                + "instead of the writeback cache; auto = when running as root and the kernel offers it (default), on = ask even when not root, off = never",
            DefaultValueFactory = _ => "auto",
        }.AcceptOnlyFromAmong("auto", "on", "off");
        var dirCacheTime = new Option<double>("--s3-dir-cache-time")
        {
            Description = "S3 stores: seconds a directory listing from the bucket is trusted before it is listed again when looked at (new and pruned snapshots show after at most this long; 0 = every time)",
            DefaultValueFactory = _ => 60,
        }.AtLeast(0.0);
        var noWarmup = new Option<bool>("--no-warmup")
        {
            Description = "skip compiling the read paths on a tiny throwaway datastore before mounting, which only `dotnet backupfs.dll` (JIT-compiled) does: it is ready ~0.5 s sooner, its first walk is slower",
        };
        var keyFiles = KeyOptions.KeyFiles();
        keyFiles.Description += "; staging commits are encrypted with the first one";
        var command = new Command("mount", "mount a datastore as a directory tree (FUSE): snapshots read-only, staging/ writable")
            { store, mountPoint, foreground, allowOther, autoUnmount, cacheMb, readahead, raw, imageMode, force, threads, commitDelay, prepareFrom, releaseSpoolPages, readOnly, writeThrough, noWarmup, keyFiles, dirCacheTime, s3Timeout, fuseUring, passthrough };
        // A background mount's detached process reports its start (ready, or its error) to the waiting parent.
        command.SetAction((parse, ct) => MountStartReport.RunAsync(async report =>
        {
            var output = parse.InvocationConfiguration.Output;
            // Every option, the mount point, the store and the keys are checked here, in the foreground,
            // before a background mount detaches: a mistake is an error of this command, not a line in a log.
            uint wholeArchiveMode = ParseImageMode(parse.GetValue(imageMode)!);
            var mnt = MountPreflight.CheckMountPoint(parse.GetValue(mountPoint)!, parse.GetValue(force));
            var keyPaths = parse.GetValue(keyFiles) ?? [];
            if (!parse.GetValue(foreground))
            {
                MountPreflight.CheckStore(parse.GetValue(store)!, parse.GetValue(readOnly), parse.GetValue(s3Timeout));
                // Passphrases are asked for here (the detached child has no terminal) and handed over on a pipe.
                var passphrases = KeyOptions.CollectPassphrases(keyPaths);
                try
                {
                    MountPreflight.CheckKeys(keyPaths, passphrases);
                    return await BackgroundMount.StartAsync(mnt, output, passphrases, ct);
                }
                finally { foreach (var p in passphrases) Array.Clear(p); }
            }
            // Read before stdio moves to the log: the parent hands passphrases over on our stdin.
            var handedOver = KeyOptions.HandedOverPassphrases();
            if (Environment.GetEnvironmentVariable(BackgroundMount.LogFileVariable) is { Length: > 0 } logFile)
            {
                MountLog.RedirectStdio(logFile); // started in the background: stdout/stderr into the log the parent made
                Environment.SetEnvironmentVariable(BackgroundMount.LogFileVariable, null);
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
            if (!parse.GetValue(noWarmup) && MountWarmup.Needed) await MountWarmup.RunAsync(ct);
            long cacheBytes = parse.GetValue(cacheMb) * 1024L * 1024;
            using var chunks = StoreOpener.ChunkSource(ds, cacheBytes);
            using var chunkSources = StoreOpener.ChunkSources(ds, chunks, cacheBytes);
            var delay = parse.GetValue(commitDelay);
            StagingArea? staging = null;
            if (!readOnlyMount)
            {
                staging = new StagingArea(new StagingContext(ds, chunks, new StagingOptions
                {
                    CommitDelay = TimeSpan.FromSeconds(delay),
                    PrepareFilesFrom = parse.GetValue(prepareFrom) is var mib and > 0 ? (long)(mib * 1024 * 1024) : long.MaxValue,
                    ReleaseSpoolPages = parse.GetValue(releaseSpoolPages),
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
                    // Registering a backing file needs CAP_SYS_ADMIN: without it every open would fall back to uncached I/O.
                    Passthrough = staging is not null && parse.GetValue(passthrough) switch { "on" => true, "off" => false, _ => Environment.IsPrivilegedProcess },
                    IoUring = parse.GetValue(fuseUring) switch { "on" => FuseIoUring.On, "off" => FuseIoUring.Off, _ => FuseIoUring.Auto },
                    Log = m => Console.Error.WriteLine(m),
                });
            using var signals = session.HandleTerminationSignals();
            await session.Ready.WaitAsync(TimeSpan.FromSeconds(30), ct);
            output.WriteLine($"mounted {ds.Root} at {mnt}");
            report?.ReportReady();
            await session.Completion;
            return 0;
        }));
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
        return new S3.Following.S3MetadataFollower(s3.Client, s3.Layout, s3.CacheRoot, TimeSpan.FromSeconds(seconds), m => Console.Error.WriteLine("backupfs: " + m));
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
