using BackupFs.Datastore.Formats;
using static BackupFs.Datastore.Tests.Formats.ChunkerStreams;

namespace BackupFs.Datastore.Tests.Formats;

public class PayloadChunkerTests
{
    // PBS chunker.rs test_suggested_boundary: suggestions 32768, 32768, 0, 405521 → these sizes.
    private static readonly long[] PbsExpectedSizes = [32768, 110609, 229376, 32768, 262144, 262144, 118767];

    /// <summary>
    /// PBS's test moves its context base by the absolute end of each chunk instead of by the
    /// chunk's length, so its fourth suggestion (405521 in that frame) is reached at stream offset
    /// 143377 + 229376 = 372753. Here suggestions are plain stream offsets, so we pass 372753.
    /// </summary>
    private static PayloadChunker WithPbsSuggestions()
    {
        var chunker = new PayloadChunker(64 * 1024);
        Assert.False(chunker.SuggestBoundary(32 * 1024)); // inside the first regular chunk
        Assert.False(chunker.SuggestBoundary(32 * 1024)); // same again: would give an empty chunk
        Assert.False(chunker.SuggestBoundary(0));         // in the past
        Assert.False(chunker.SuggestBoundary(372753));    // inside a regular chunk, followed by a regular boundary
        return chunker;
    }

    [Fact]
    public void ReproducesPbsSuggestedBoundaryTest()
    {
        var data = CountingWords();
        var whole = Ends(WithPbsSuggestions().Scan, data);
        Assert.Equal(PbsExpectedSizes, Sizes(whole));
        Assert.Equal(whole, Ends(WithPbsSuggestions().Scan, data, feed: 1));
        Assert.Equal(whole, Ends(WithPbsSuggestions().Scan, data, feed: 1000));
    }

    [Fact]
    public void WithoutSuggestionsItEqualsThePlainChunker()
    {
        var data = HashBlocks("payload", 2 * 1024 * 1024);
        Assert.Equal(Ends(new Chunker(64 * 1024).Scan, data), Ends(new PayloadChunker(64 * 1024).Scan, data));
    }

    [Fact]
    public void SuggestionAtTheCurrentPositionCutsAtOnceWhenInRange()
    {
        var data = HashBlocks("now", 200_000);
        var chunker = new PayloadChunker(64 * 1024);
        Assert.Equal(0, chunker.Scan(data.AsSpan(0, 10_000)));
        Assert.False(chunker.SuggestBoundary(10_000)); // below the 16 KiB minimum: ignored
        Assert.Equal(0, chunker.Scan(data.AsSpan(10_000, 10_000)));
        Assert.True(chunker.SuggestBoundary(20_000));  // in range: the chunk ends here
        Assert.Equal(20_000, chunker.ChunkStart);
        Assert.Equal(20_000, chunker.Position);
        Assert.False(chunker.SuggestBoundary(19_000)); // already passed
    }

    [Fact]
    public void SuggestionBeyondTheMaximumWaitsForTheNextChunk()
    {
        // Zeros never hit the hash condition, so only the maximum (256 KiB) and suggestions cut.
        var data = new byte[1024 * 1024];
        var chunker = new PayloadChunker(64 * 1024);
        chunker.SuggestBoundary(270_000); // beyond the max from 0: the max cut comes first at 262144, then 7856 is < min → dropped
        chunker.SuggestBoundary(600_000); // beyond the max from 262144 too: max cut at 524288, then 75712 is in range → taken
        var ends = Ends(chunker.Scan, data);
        Assert.Equal(new long[] { 262144, 524288, 600_000, 862144, 1048576 }, ends);
        Assert.Equal(0, chunker.PendingSuggestions);
    }

    [Fact]
    public void HashBoundaryBeforeASuggestionStillWins()
    {
        var data = CountingWords(); // regular boundary at 143377 (64 KiB average)
        var chunker = new PayloadChunker(64 * 1024);
        chunker.SuggestBoundary(150_000);
        Assert.Equal(new long[] { 143377 }, Ends(chunker.Scan, data).Take(1));
    }

    [Fact]
    public void ResetWithInjectedDataMovesTheStreamOffset()
    {
        var data = new byte[100_000];
        var chunker = new PayloadChunker(64 * 1024, streamOffset: 1000);
        Assert.Equal(0, chunker.Scan(data.AsSpan(0, 5000)));
        Assert.Equal(6000, chunker.Position);
        chunker.Reset(nextChunkStart: 6000 + 4096); // the writer forces a cut and injects 4 KiB of reused chunks
        Assert.Equal(10_096, chunker.ChunkStart);
        chunker.SuggestBoundary(10_096 + 20_000);
        Assert.Equal(20_000, chunker.Scan(data));
        Assert.Throws<ArgumentOutOfRangeException>(() => chunker.Reset(nextChunkStart: 5));
    }

    [Fact]
    public void SlicingDoesNotChangeBoundariesWithManySuggestions()
    {
        var data = HashBlocks("slices", 3 * 1024 * 1024);
        var random = new Random(11);
        var suggestions = Enumerable.Range(0, 60).Select(_ => (long)random.Next(data.Length)).Order().ToList();
        PayloadChunker Make()
        {
            var chunker = new PayloadChunker(64 * 1024);
            foreach (var s in suggestions) chunker.SuggestBoundary(s);
            return chunker;
        }
        var whole = Ends(Make().Scan, data);
        Assert.Equal(whole, Ends(Make().Scan, data, feed: 777));
        Assert.Equal(whole, Ends(Make().Scan, data, feed: 65536));
        // Some suggestions were taken, and every chunk but the last respects min and max.
        Assert.NotEmpty(whole.Intersect(suggestions));
        Assert.All(Sizes(whole).SkipLast(1), size => Assert.InRange(size, 16 * 1024, 256 * 1024));
    }
}
