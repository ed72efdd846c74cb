using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Platform;

/// <summary>Written pages given back to the kernel: the content stays, the cache goes, nothing but a regular file is touched.</summary>
public class PageCacheReleaseTests
{
    [Fact]
    public void A_written_file_keeps_its_content_and_leaves_the_page_cache()
    {
        using var tmp = new TempDir();
        var path = tmp.Sub("spool");
        var data = new byte[3 << 20];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(path, data); // dirty pages, not yet written out

        Assert.True(PageCacheRelease.WriteBackAndDrop(path));
        if (PageResidency.Droppable(path)) Assert.True(PageResidency.Fraction(path) < 0.5, $"{PageResidency.Fraction(path):P0} of the file is still cached");
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public async Task A_symlink_a_fifo_or_a_missing_file_is_refused_at_once()
    {
        using var tmp = new TempDir();
        var target = tmp.Sub("target");
        File.WriteAllBytes(target, new byte[4096]);
        var link = tmp.Sub("link");
        File.CreateSymbolicLink(link, target);
        var fifo = tmp.Sub("fifo");
        Posix.Mkfifo(Posix.PathBytes(fifo), 0x180);

        Assert.False(PageCacheRelease.WriteBackAndDrop(link)); // never through a symlink
        // No writer: the open must not block (a timeout here means it did).
        Assert.False(await Task.Run(() => PageCacheRelease.WriteBackAndDrop(fifo)).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(PageCacheRelease.WriteBackAndDrop(tmp.Sub("missing")));
    }
}
