using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Vfs;
using static BackupFs.FsHost.Tests.Staging.SessionFixture;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>Staged files cut and stored in the background once closed; commits append them by digest.</summary>
public class PayloadPreparerTests
{
    private static byte[] Content(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        for (int i = 0; i < size; i += 5) data[i] = 0;
        return data;
    }

    private static StagingOptions Options(TimeSpan after) => new()
    {
        CommitDelay = TimeSpan.FromHours(1), PrepareFilesFrom = 1 << 20, PrepareAfter = after, PrepareDirectoriesAfter = after,
    };

    private static void WaitPrepared(StagedInode inode) =>
        WaitUntil(() => inode.PreparedPayload is not null, "the file was not prepared in the background");

    [Fact]
    public void AClosedBigFileIsPreparedAndTheCommitAppendsItWithoutReadingItAgain()
    {
        using var f = new SessionFixture(Options(TimeSpan.Zero));
        var s = f.Open();
        var d = Mkdir(s, s.Root, "d");
        var big = WriteFile(s, d, "big", Content(5_000_000, 1));
        var small = WriteFile(s, d, "small", Content(1000, 2)); // below the size: cut with its directory's small files
        WaitPrepared(big);
        WaitPrepared(small);
        Assert.Equal(5_000_000, big.PreparedPayload!.ContentSize);
        Assert.NotSame(big.PreparedPayload.Run, small.PreparedPayload!.Run);

        var result = CommitAndReopenTheSame(f, s); // read back from the committed snapshot
        Assert.Equal(2, result.Split.PreparedFiles);
        Assert.Equal(5_001_000, result.Split.PreparedBytes);
        Assert.Equal(0, result.Split.EncodedFiles);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ASpoolFileCutInTheBackgroundGivesItsPagesBackWhenAskedAndStillReadsTheSame(bool release)
    {
        using var f = new SessionFixture(Options(TimeSpan.Zero) with { ReleaseSpoolPages = release });
        var s = f.Open();
        var content = Content(6_000_000, 11);
        var big = WriteFile(s, s.Root, "big", content);
        var small = WriteFile(s, s.Root, "small", Content(2000, 12));
        WaitPrepared(big);
        WaitPrepared(small);
        var spool = big.SpoolPath!;
        if (release)
        {
            var until = DateTime.UtcNow + Bound;
            while (f.Context.Preparer.SpoolFilesReleased < 2) // the big file and the run of small ones
            {
                Assert.True(DateTime.UtcNow < until, "the spool files' pages were not given back");
                Thread.Sleep(20);
            }
            if (Datastore.Tests.TestSupport.PageResidency.Droppable(spool))
                Assert.True(Datastore.Tests.TestSupport.PageResidency.Fraction(spool) < 0.5, "the cut spool file is still cached");
        }
        else
        {
            Thread.Sleep(200);
            Assert.Equal(0, f.Context.Preparer.SpoolFilesReleased);
            Assert.True(Datastore.Tests.TestSupport.PageResidency.Fraction(spool) > 0.5, "the spool file left the page cache without being asked to");
        }
        Assert.Equal(content, Read(s, big)); // from disk now, the same bytes
        Assert.NotNull(big.PreparedPayload); // reading changed nothing

        var result = CommitAndReopenTheSame(f, s);
        Assert.Equal(2, result.Split.PreparedFiles);
    }

    [Fact]
    public void AWriteAfterThePreparationDropsItAndTheCommitHasTheNewContent()
    {
        using var f = new SessionFixture(Options(TimeSpan.Zero));
        var s = f.Open();
        var big = WriteFile(s, s.Root, "big", Content(3_000_000, 3));
        WaitPrepared(big);

        var h = Run(s.OpenAsync(big, 2, CancellationToken.None)).Value; // O_WRONLY, no truncation
        Assert.Equal(Errno.Ok, s.Write(h, 1_000_000, Content(10, 4)));
        Assert.Null(big.PreparedPayload); // the content moved on
        Run(s.ReleaseAsync(h, CancellationToken.None));

        CommitAndReopenTheSame(f, s);
    }

    [Fact]
    public void AFileChangedAgainAfterItWasCutWaitsLongerBeforeTheNextCut()
    {
        using var f = new SessionFixture(Options(TimeSpan.FromMilliseconds(500)));
        var s = f.Open();
        var big = WriteFile(s, s.Root, "big", Content(3_000_000, 9));
        WaitPrepared(big);
        Assert.Equal(1, big.PreparedCount);

        var h = Run(s.OpenAsync(big, 2, CancellationToken.None)).Value; // an appender that reopens the file
        Assert.Equal(Errno.Ok, s.Write(h, 3_000_000, Content(10, 10)));
        Run(s.ReleaseAsync(h, CancellationToken.None));
        Thread.Sleep(700); // past the first quiet period: a second cut now waits 4x as long (2 s)
        Assert.Null(big.PreparedPayload);
        Assert.Equal(1, big.PreparedCount);
        WaitPrepared(big);
        Assert.Equal(3_000_010, big.PreparedPayload!.ContentSize);

        var result = CommitAndReopenTheSame(f, s);
        Assert.Equal(1, result.Split.PreparedFiles);
    }

    [Fact]
    public void ACommitPreparesWhatStillWaitsForItsQuietPeriodOnce()
    {
        using var f = new SessionFixture(Options(TimeSpan.FromHours(1)));
        var s = f.Open();
        WriteFile(s, s.Root, "a", Content(2_000_000, 5));
        WriteFile(s, s.Root, "b", Content(2_500_000, 6));
        var result = CommitAndReopenTheSame(f, s); // does not wait out the hour
        Assert.Equal(2, result.Split.PreparedFiles);
        Assert.Equal(0, result.Split.EncodedFiles);
    }

    [Fact]
    public void ADeletedFileIsNotPreparedAndNothingFails()
    {
        using var f = new SessionFixture(Options(TimeSpan.FromMilliseconds(300)));
        var s = f.Open();
        WriteFile(s, s.Root, "gone", Content(2_000_000, 7));
        Assert.Equal(Errno.Ok, Run(s.UnlinkAsync(s.Root, N("gone"), false, CancellationToken.None)));
        WriteFile(s, s.Root, "kept", Content(10, 8));
        var result = CommitAndReopenTheSame(f, s);
        Assert.Equal(1, result.Split.PreparedFiles); // "kept" only
        Assert.Equal(10, result.Split.PreparedBytes);
    }

    [Fact]
    public void SmallFilesOfADirectoryAreCutAsRunsInArchiveOrder()
    {
        // The directory's quiet period outlasts writing its files even on a loaded machine (else a run splits).
        using var f = new SessionFixture(Options(TimeSpan.FromMilliseconds(50)) with { PrepareDirectoriesAfter = TimeSpan.FromSeconds(1) });
        var s = f.Open();
        var d = Mkdir(s, s.Root, "d");
        var files = new List<StagedInode>();
        foreach (var name in new[] { "c", "a", "b" }) files.Add(WriteFile(s, d, name, Content(100_000, name[0])));
        Mkdir(s, d, "bb"); // sorts between b and c: a run ends there
        var big = WriteFile(s, d, "e", Content(2_000_000, 9));
        foreach (var inode in files.Append(big)) WaitPrepared(inode);
        var (c, a, b) = (files[0].PreparedPayload!, files[1].PreparedPayload!, files[2].PreparedPayload!);
        Assert.Same(a.Run, b.Run);
        Assert.NotSame(a.Run, c.Run);
        Assert.True(a.HeaderOffset < b.HeaderOffset);

        var result = CommitAndReopenTheSame(f, s);
        Assert.Equal(4, result.Split.PreparedFiles);
    }

    [Fact]
    public void ABigFileWaitingBehindAnotherOnesCutIsTakenByASecondWorker()
    {
        using var f = GatedFixture(out var chunks);
        var s = f.Open();
        var preparer = f.Context.Preparer;
        var first = WriteFile(s, s.Root, "first", Content(3_000_000, 41));
        WaitUntil(() => Volatile.Read(ref chunks.Waiting) >= 1, "the first file's cut did not reach the store");
        var second = WriteFile(s, s.Root, "second", Content(3_000_000, 42));
        // The first cut is held at the store: only a second worker can take the file behind it.
        WaitUntil(() => preparer.Running == 2, "the file behind a held cut was not taken by a second worker");
        chunks.Gate.Release(int.MaxValue / 2);
        WaitPrepared(first);
        WaitPrepared(second);

        var result = CommitAndReopenTheSame(f, s);
        Assert.Equal(2, result.Split.PreparedFiles);
        Assert.Equal(0, result.Split.EncodedFiles);
    }

    [Fact]
    public void AFileQueuedTwiceAtOneContentVersionIsCutOnceEvenWithASecondWorker()
    {
        using var f = GatedFixture(out var chunks);
        var s = f.Open();
        var preparer = f.Context.Preparer;
        var big = WriteFile(s, s.Root, "big", Content(3_000_000, 43));
        WaitUntil(() => Volatile.Read(ref chunks.Waiting) >= 1, "the file's cut did not reach the store");
        var h = Run(s.OpenAsync(big, 2, CancellationToken.None)); // opened for writing and closed again, nothing written
        Assert.True(h.IsOk, $"open: {h.Error}");
        Run(s.ReleaseAsync(h.Value, CancellationToken.None));
        Thread.Sleep(300); // well past the wait after which a second worker takes a big file
        chunks.Gate.Release(int.MaxValue / 2);
        WaitPrepared(big);
        WaitUntil(() => preparer.Running == 0, "the preparer did not finish");
        Assert.Equal(1, big.PreparedCount);
    }

    /// <summary>Commits the session, closes it and checks that a new one, read back from the snapshot, shows the same tree.</summary>
    private static SplitCommitResult CommitAndReopenTheSame(SessionFixture f, StagingSession s)
    {
        string before = Describe(s);
        var result = Run(s.CommitAsync(force: false, CancellationToken.None))!;
        s.Dispose();
        Assert.Equal(before, Describe(f.Open()));
        return result;
    }

    /// <summary>A session fixture whose store holds every insert at a gate the test opens.</summary>
    private static SessionFixture GatedFixture(out GatedInserts chunks)
    {
        chunks = new GatedInserts();
        var f = new SessionFixture(Options(TimeSpan.Zero) with { ChunkBackend = chunks });
        chunks.Inner = f.Store.Chunks;
        return f;
    }

    private static void WaitUntil(Func<bool> condition, string failure)
    {
        var until = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, failure);
            Thread.Sleep(10);
        }
    }

    /// <summary>Inserts wait at <see cref="Gate"/> until the test opens it (a slow store), then go to the store.</summary>
    private sealed class GatedInserts : IChunkBackend
    {
        public IChunkBackend Inner { get; set; } = null!;
        public readonly SemaphoreSlim Gate = new(0);
        public int Waiting;
        public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) => Inner.ReadBlobAsync(digest, ct);
        public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default) => Inner.ContainsAsync(digest, ct);
        public async ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Waiting);
            await Gate.WaitAsync(ct).ConfigureAwait(false);
            return await Inner.InsertAsync(digest, blob, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Inserts fail while <see cref="Failing"/> (a full or unreachable store), else go to the store.</summary>
    private sealed class FailingInserts : IChunkBackend
    {
        public IChunkBackend Inner { get; set; } = null!;
        public volatile bool Failing = true;
        public int Failures;
        public ValueTask<byte[]?> ReadBlobAsync(Digest digest, CancellationToken ct = default) => Inner.ReadBlobAsync(digest, ct);
        public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken ct = default) => Inner.ContainsAsync(digest, ct);
        public ValueTask<ChunkInsertResult> InsertAsync(Digest digest, ReadOnlyMemory<byte> blob, CancellationToken ct = default)
        {
            if (!Failing) return Inner.InsertAsync(digest, blob, ct);
            Interlocked.Increment(ref Failures);
            throw new IOException("No space left on device", 28);
        }
    }

    [Fact]
    public void AStoreThatFailsInTheBackgroundCostsOnlyTheWorkAndOneLogLine()
    {
        var chunks = new FailingInserts();
        var log = new List<string>();
        using var f = new SessionFixture(Options(TimeSpan.Zero) with { ChunkBackend = chunks });
        chunks.Inner = f.Store.Chunks;
        var context = new StagingContext(f.Store, f.Context.Chunks, f.Options, m => { lock (log) log.Add(m); });
        var s = f.Open(context);
        var files = Enumerable.Range(0, 4).Select(i => WriteFile(s, s.Root, $"f{i}", Content(1_500_000, 20 + i))).ToList();
        var until = DateTime.UtcNow + Bound;
        while (Volatile.Read(ref chunks.Failures) < 4 && DateTime.UtcNow < until) Thread.Sleep(20);
        Assert.All(files, inode => Assert.Null(inode.PreparedPayload));

        chunks.Failing = false; // the store is back: the commit writes everything itself
        string before = Describe(s);
        var result = Run(s.CommitAsync(force: false, CancellationToken.None))!;
        Assert.Equal(4, result.Split.EncodedFiles);
        Assert.Equal(0, result.Split.PreparedFiles);
        s.Dispose();
        Run(context.StopPreparerAsync());
        Assert.Equal(before, Describe(f.Open()));
        lock (log) Assert.Single(log, m => m.Contains("could not prepare files in the background"));
    }
}
