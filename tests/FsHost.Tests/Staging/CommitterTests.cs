using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Store;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Vfs;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Commits write a frozen view of the session: what was there at the freeze, while the session goes on.</summary>
public class CommitterTests : IDisposable
{
    private readonly BlockingChunks _chunks;
    private readonly SessionFixture _f;

    public CommitterTests()
    {
        _chunks = new BlockingChunks();
        // No background preparation: these tests hold the commit's own uploads to look at its frozen view.
        _f = new SessionFixture(new StagingOptions { CommitDelay = TimeSpan.FromHours(1), ChunkBackend = _chunks, PrepareFilesFrom = long.MaxValue });
        _chunks.Inner = _f.Store.Chunks;
    }

    public void Dispose()
    {
        _chunks.Release();
        _f.Dispose();
    }

    private static CancellationToken None => CancellationToken.None;

    [Fact]
    public void ACommittedSessionReopensAsTheSameTree()
    {
        _chunks.Release();
        var s = _f.Open();
        var d = Mkdir(s, s.Root, "d");
        var f = WriteFile(s, d, "f", new byte[300_000].Select((_, i) => (byte)(i * 7)).ToArray());
        Ok(Run(s.LinkAsync(f, s.Root, N("f2"), None)));
        Ok(Run(s.SymlinkAsync(d, N("sym"), N("f"), 0, 0, None)));
        Assert.Equal(Errno.Ok, Run(s.SetXattrAsync(d, N("user.k"), N("v"), 0, None)));
        string before = Describe(s);
        var result = Run(s.CommitAsync(force: false, None));
        Assert.NotNull(result);
        Assert.False(s.Dirty); // nothing changed during the commit: the snapshot is the new base
        Assert.Equal(before, Describe(s));
        s.Dispose();
        Assert.Equal(before, Describe(_f.Open())); // read back from the committed snapshot
    }

    [Fact]
    public async Task ACommitPublishesItsSnapshotBeforeTheRebaseAndTheNextRequestWaitsForTheRebase()
    {
        _chunks.Release();
        var s = _f.Open();
        var d = Mkdir(s, s.Root, "d");
        WriteFile(s, d, "f", "content"u8.ToArray());
        Task<VfsResult<StagedInode>>? lookup = null;
        bool rebaseUnknown = false, snapshotShown = false;
        var result = await s.CommitAsync(force: false, None, published: r =>
        {
            // Called under the session's gate, the rebase still ahead: a request made now waits for it.
            snapshotShown = s.LastCommitted == r.Snapshot;
            rebaseUnknown = s.LastTimings is { Rebase: null };
            lookup = s.LookupAsync(d, N("f"), None).AsTask();
        }).WaitAsync(Bound);
        Assert.NotNull(result);
        Assert.True(snapshotShown, "the snapshot was not shown when the commit was published");
        Assert.True(rebaseUnknown, "the timings claimed a rebase before it ran");
        Assert.NotNull(lookup);
        var f = Ok(await lookup!.WaitAsync(Bound));
        Assert.Null(f.SpoolPath); // it saw the rebased tree: the file's content is the snapshot's now
        Assert.NotNull(f.BaseEntry);
        Assert.NotNull(s.LastTimings!.Rebase);
        Assert.False(s.Dirty);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AMountEndingBeforeTheRebaseStartsTheNextOneFromTheSnapshotNotFromTheOldBase(bool changedAfter)
    {
        _chunks.Release();
        var s = _f.Open();
        var d = Mkdir(s, s.Root, "d");
        WriteFile(s, d, "f", "committed"u8.ToArray());
        string committed = Describe(s);
        using var ending = new CancellationTokenSource();
        // The mount ends right after the snapshot is published: the rebase is cancelled.
        var commit = s.CommitAsync(force: false, ending.Token, published: _ => ending.Cancel());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => commit.WaitAsync(Bound));
        var snapshot = s.LastCommitted!;
        Assert.True(s.Dirty); // the session kept its journal
        if (changedAfter) WriteFile(s, d, "later", "after the commit"u8.ToArray());
        string expected = Describe(s);
        s.Dispose();

        var next = _f.Open();
        if (changedAfter)
        {
            // A change followed the commit: the journal is replayed as it was, and the next commit has both.
            Assert.True(next.Dirty);
            Assert.Equal(expected, Describe(next));
            var result = Run(next.CommitAsync(force: false, None))!;
            Assert.Equal("after the commit", ReadSnapshot(result.Snapshot)["d/later"]);
        }
        else
        {
            // Nothing followed it: the snapshot holds the journal, so the session starts from it with nothing to commit.
            Assert.False(next.Dirty);
            Assert.Equal(snapshot, next.Base);
            Assert.Equal(committed, Describe(next));
            Assert.Null(Run(next.CommitAsync(force: false, None)));
            Assert.Single(_f.Store.ListFinishedSnapshots(_f.Group));
        }
    }

    [Fact]
    public async Task LookupsAndWritesGoOnWhileACommitUploads()
    {
        var s = _f.Open();
        var d = Mkdir(s, s.Root, "d");
        var f = WriteFile(s, d, "f", "frozen content"u8.ToArray());
        var commit = Task.Run(() => s.CommitAsync(force: false, None));
        Assert.True(_chunks.Entered.Wait(Bound), "the commit never stored a chunk");
        Assert.False(commit.IsCompleted);

        // The commit is blocked in the chunk store: the session still answers.
        var lookup = await s.LookupAsync(d, N("f"), None).AsTask().WaitAsync(Bound);
        Assert.Same(f, lookup.Value);
        var write = Task.Run(() =>
        {
            Overwrite(s, f, "changed during the commit"u8.ToArray());
            WriteFile(s, s.Root, "new", "made during the commit"u8.ToArray());
        });
        await write.WaitAsync(Bound);
        Assert.False(commit.IsCompleted);

        _chunks.Release();
        var result = (await commit.WaitAsync(Bound))!;
        // The snapshot holds the tree as frozen; the later changes stay staged.
        var committed = ReadSnapshot(result.Snapshot);
        Assert.Equal("frozen content", committed["d/f"]);
        Assert.False(committed.ContainsKey("new"));
        Assert.True(s.Dirty);
        Assert.Equal("changed during the commit"u8.ToArray(), Read(s, f));

        var next = Run(s.CommitAsync(force: false, None))!;
        committed = ReadSnapshot(next.Snapshot);
        Assert.Equal("changed during the commit", committed["d/f"]);
        Assert.Equal("made during the commit", committed["new"]);
        Assert.False(s.Dirty);
    }

    /// <summary>Paths of regular files below the snapshot's root, with their content.</summary>
    private Dictionary<string, string> ReadSnapshot(SnapshotRef snapshot)
    {
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_f.Store.Chunks), 16 << 20);
        var reader = SnapshotReader.Open(_f.Store, snapshot, chunks, null);
        var accessor = Run(PxarArchiveOpener.OpenAsync(reader, chunks, "root.pxar", None).AsTask());
        var files = new Dictionary<string, string>();
        var pending = new Stack<(string, PxarEntry)>([("", accessor.Root)]);
        while (pending.TryPop(out var item))
            foreach (var e in Run(accessor.ListDirectoryAsync(item.Item2, None)))
            {
                var path = item.Item1 + e.NameString;
                var entry = e.Kind == PxarEntryKind.Hardlink ? Run(accessor.FollowHardlinkAsync(e, None)) : e;
                if (entry.Kind == PxarEntryKind.Directory) pending.Push((path + "/", entry));
                else if (entry.Kind == PxarEntryKind.File)
                {
                    var buffer = new byte[entry.Size];
                    int n = Run(accessor.ReadFileAsync(entry, 0, buffer, None));
                    files[path] = System.Text.Encoding.UTF8.GetString(buffer, 0, n);
                }
            }
        return files;
    }

    /// <summary>A chunk store whose inserts wait until the test releases them.</summary>
    private sealed class BlockingChunks : IChunkBackend
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public IChunkBackend Inner { get; set; } = null!;
        public ManualResetEventSlim Entered { get; } = new();

        public void Release() => _released.TrySetResult();

        public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) => Inner.ReadBlobAsync(digest, ct);
        public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default) => Inner.ContainsAsync(digest, ct);

        public async ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default)
        {
            Entered.Set();
            await _released.Task.WaitAsync(ct).ConfigureAwait(false);
            return await Inner.InsertAsync(digest, blob, ct).ConfigureAwait(false);
        }
    }
}
