using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Staging.Nodes;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tests.Tree;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Failing commits and staging's private state: contained, marked, bounded, never a crash loop.</summary>
[Collection("fuse")]
public class StagingFaultTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    public StagingFaultTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => _tmp.Dispose();

    /// <summary>A chunk store whose inserts fail while <see cref="Fail"/> is set.</summary>
    private sealed class FailingChunks(IChunkBackend inner) : IChunkBackend
    {
        public volatile bool Fail = true;
        public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) => inner.ReadBlobAsync(digest, ct);
        public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default) => inner.ContainsAsync(digest, ct);
        public ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default) =>
            Fail ? throw new IOException("injected chunk store failure") : inner.InsertAsync(digest, blob, ct);
    }

    private static string? ErrorXattr(string session)
    {
        var r = Bounded.Run("getfattr", "--only-values", "-n", StagingControlXattrs.ErrorXattr, session);
        return r.ExitCode == 0 ? r.Stdout : null;
    }

    [FuseFact]
    public void AFailingCommitIsMarkedNotRetriedInALoopAndTheMountKeepsServing()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var root = DataStore.CreateLocal(_tmp.Sub("ds")).Root;
        var chunks = new FailingChunks(new LocalChunkStore(root));
        var store = new DataStore(root, chunks);
        var group = BackupGroup.Parse("host/fail");
        var options = new StagingOptions { CommitDelay = TimeSpan.FromMilliseconds(200), RetryDelay = TimeSpan.FromMilliseconds(200), OpenFilesWait = TimeSpan.FromSeconds(1) };
        int failures = 0;
        using (var mount = new DatastoreMount(store, staging: options))
        {
            mount.Staging!.Committed += (_, _, e) => { if (e is not null) Interlocked.Increment(ref failures); };
            var session = mount.PathOf("staging/host/fail");
            Assert.Equal(0, Bounded.Run("mkdir", session).ExitCode);
            Bounded.Io(() => File.WriteAllBytes(Path.Combine(session, "data"), new byte[100_000]));
            Assert.True(Bounded.Eventually(() => Volatile.Read(ref failures) >= 1, TimeSpan.FromSeconds(30)));
            // Bounded: with nothing changed, ten retry delays bring no new attempt.
            Thread.Sleep(2000);
            Assert.Equal(1, Volatile.Read(ref failures));
            Assert.Contains("injected chunk store failure", ErrorXattr(session));
            Assert.Null(store.LatestSnapshot(group));

            // The mount keeps serving, reads and writes alike.
            Assert.Equal(100_000, Bounded.Io(() => File.ReadAllBytes(Path.Combine(session, "data"))).Length);
            Assert.Contains("data", Bounded.Run("ls", session).Stdout);

            // A new change earns one more attempt (after the back-off), not a loop.
            Bounded.Io(() => File.WriteAllText(Path.Combine(session, "more"), "more"));
            Assert.True(Bounded.Eventually(() => Volatile.Read(ref failures) >= 2, TimeSpan.FromSeconds(30)));
            Thread.Sleep(2000);
            Assert.Equal(2, Volatile.Read(ref failures));

            // An explicit commit always tries, and says why it failed.
            var (code, _, stderr) = Task.Run(() => CliRunner.RunAsync("commit", session)).WaitAsync(TimeSpan.FromMinutes(2)).GetAwaiter().GetResult();
            Assert.Equal(1, code);
            Assert.Contains("injected chunk store failure", stderr);
        } // unmount: the held session is not committed again (logged), its changes stay journaled
        Assert.Equal(3, Volatile.Read(ref failures));
        var state = StagingPath.SessionDirectory(store, group);
        Assert.True(File.Exists(Path.Combine(state, StagingJournal.FileName)));
        Assert.True(File.Exists(Path.Combine(state, "commit-error")));

        // Remount while the store still fails: the journal is replayed, the failure is remembered,
        // and no automatic attempt is made (no crash loop after a commit that killed the process).
        int failuresAfterRemount = 0;
        using (var mount = new DatastoreMount(store, staging: options))
        {
            mount.Staging!.Committed += (_, _, e) => { if (e is not null) Interlocked.Increment(ref failuresAfterRemount); };
            var session = mount.PathOf("staging/host/fail");
            Assert.Contains(mount.StagingLog, l => l.Contains("not retried until"));
            Assert.Contains("injected chunk store failure", ErrorXattr(session));
            Thread.Sleep(2000);
            Assert.Equal(0, Volatile.Read(ref failuresAfterRemount));
            Assert.Equal("more", Bounded.Io(() => File.ReadAllText(Path.Combine(session, "more"))));

            chunks.Fail = false;
            var (code, stdout, stderr) = Task.Run(() => CliRunner.RunAsync("commit", session)).WaitAsync(TimeSpan.FromMinutes(2)).GetAwaiter().GetResult();
            Assert.True(code == 0, stderr);
            Assert.StartsWith("host/fail/", stdout.Trim());
            Assert.Null(ErrorXattr(session));
            Assert.False(File.Exists(Path.Combine(state, "commit-error")));
            Assert.Empty(mount.Errors);
        }
    }

    [FuseFact]
    public void StagedDataIsPrivateOnDisk()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        using var mount = new DatastoreMount(store, staging: new StagingOptions { CommitDelay = TimeSpan.FromHours(1) });
        var session = mount.PathOf("staging/ns/team/host/priv");
        Assert.Equal(0, Bounded.Run("mkdir", "-p", session).ExitCode);
        Bounded.Io(() => File.WriteAllText(Path.Combine(session, "open"), "world-readable in staging"));
        Assert.Equal(0, Bounded.Run("chmod", "644", Path.Combine(session, "open")).ExitCode);
        Assert.Equal(0, Bounded.Run("mkdir", Path.Combine(session, "dir")).ExitCode);

        var top = Path.Combine(store.PrivateDir, StagingPath.SpoolDirName);
        var listing = Bounded.Run("find", top, "-printf", "%y %m %P\n").Stdout.Trim().Split('\n');
        _output.WriteLine(string.Join('\n', listing));
        Assert.Contains(listing, l => l.EndsWith("/journal"));
        Assert.Contains(listing, l => l.Contains("/spool/"));
        Assert.All(listing, l => Assert.True(l.StartsWith("d 700 ") || l.StartsWith("f 600 "), l));
        Assert.Equal("700", Bounded.Run("stat", "-c", "%a", top).Stdout.Trim());
    }
}
