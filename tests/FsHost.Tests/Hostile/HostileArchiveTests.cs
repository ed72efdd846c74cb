using System.Diagnostics;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Hostile;

/// <summary>
/// The reported amplification: an index of a few KiB repeating one chunk describes a root
/// directory with millions of goodbye items, all pointing at one file "a". Restore (API and
/// command line) and the mount refuse it with one clear error, fast and in bounded memory.
/// </summary>
[Collection("fuse")]
public class HostileArchiveTests : IDisposable
{
    /// <summary>Items per repeated chunk: 4 MiB − 16 bytes of identical 24-byte items.</summary>
    private const int ItemsPerChunk = 174_762;
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new("backupfs-hostile-");
    public HostileArchiveTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        BackupFsProgram.UnmountQuietly(_tmp.Sub("mnt"));
        _tmp.Dispose();
    }

    [FuseFact]
    public async Task TinyIndexWithMillionsOfGoodbyeItemsIsRefusedFastInBoundedMemory()
    {
        var storePath = _tmp.Sub("ds");
        var store = DataStore.CreateLocal(storePath);
        // 8.4 million items (over the per-directory limit), and 1,048,572 (just under it: every item is read and checked).
        var huge = await CraftedSnapshots.WriteDynamicAsync(store, BackupGroup.Parse("host/huge"), 1752502800, "root.pxar.didx",
            await CraftedSnapshots.RepeatedGoodbyeAsync(ItemsPerChunk, 48));
        var under = await CraftedSnapshots.WriteDynamicAsync(store, BackupGroup.Parse("host/under"), 1752502800, "root.pxar.didx",
            await CraftedSnapshots.RepeatedGoodbyeAsync(ItemsPerChunk, 6));
        long indexBytes = new FileInfo(Path.Combine(storePath, huge.RelativePath, "root.pxar.didx")).Length;
        Assert.True(indexBytes < 16 * 1024, $"index is {indexBytes} bytes");

        // Restore through the API.
        foreach (var snap in new[] { huge, under })
        {
            var clock = Stopwatch.StartNew();
            using var chunks = new CachedChunkSource(new DecodingChunkSource(store.Chunks));
            var e = await Assert.ThrowsAsync<FormatCorruptException>(async () =>
            {
                var accessor = await PxarArchiveOpener.OpenAsync(SnapshotReader.Open(store, snap, chunks), chunks, "root.pxar");
                await new PxarExtractor(accessor).ExtractAsync(_tmp.Sub("api-" + snap.Group.Id));
            });
            _output.WriteLine($"API restore of {snap}: {e.Message} after {clock.ElapsedMilliseconds} ms");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
        }

        // Restore from the command line: one error line, exit 1, bounded peak memory.
        foreach (var snap in new[] { huge, under })
        {
            var r = ChildProcess.RunMeasured(TimeSpan.FromSeconds(60), BackupFsProgram.Path, "restore", storePath, snap.RelativePath, "root.pxar", _tmp.Sub("cli-" + snap.Group.Id));
            _output.WriteLine($"CLI restore of {snap}: exit {r.ExitCode}, peak RSS {r.PeakKb / 1024} MiB, {r.Elapsed.TotalMilliseconds:0} ms: {r.Stderr}");
            Assert.Equal(1, r.ExitCode);
            Assert.StartsWith("error: ", r.Stderr);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.True(r.PeakKb < 250 * 1024, $"peak RSS {r.PeakKb} KiB");
        }

        // The mount: listing gives EIO, the rest of the mount works, memory stays bounded.
        if (!FuseEnvironment.Usable(_output)) return;
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        var mounted = Bounded.Run(BackupFsProgram.Path, "mount", storePath, mnt);
        Assert.True(mounted.ExitCode == 0, mounted.Stderr);
        var pid = BackupFsProgram.MountPid(mnt) ?? throw new Xunit.Sdk.XunitException("no mount process");
        foreach (var snap in new[] { huge, under })
        {
            var clock = Stopwatch.StartNew();
            var ls = Bounded.RunWithTimeout(TimeSpan.FromSeconds(30), "ls", "-la", Path.Combine(mnt, snap.RelativePath, "root.pxar"));
            _output.WriteLine($"ls of {snap}: exit {ls.ExitCode} after {clock.ElapsedMilliseconds} ms: {ls.Stderr.Trim()}");
            Assert.NotEqual(0, ls.ExitCode);
            Assert.Contains("Input/output error", ls.Stderr);
            Assert.DoesNotContain("\na\n", ls.Stdout);
        }
        Assert.Equal(0, Bounded.Run("ls", Path.Combine(mnt, "host")).ExitCode);
        long peak = ChildProcess.PeakKbOf(pid);
        _output.WriteLine($"mount peak RSS {peak / 1024} MiB");
        Assert.True(peak < 300 * 1024, $"mount peak RSS {peak} KiB");
        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", mnt).ExitCode);
        Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt), TimeSpan.FromSeconds(30)));
    }
}
