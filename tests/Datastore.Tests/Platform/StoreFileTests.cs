using System.Diagnostics;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Platform;

public class StoreFileTests
{
    [Fact]
    public void ReadsARegularFile()
    {
        using var tmp = new TempDir();
        var path = tmp.Sub("f");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, StoreFile.ReadAll(path, 3));
    }

    [Fact]
    public async Task AFifoIsRefusedAtOnceInsteadOfBlocking()
    {
        using var tmp = new TempDir();
        var path = tmp.Sub("index.json.blob");
        Posix.Mkfifo(Posix.PathBytes(path), 0x1A4);
        var watch = Stopwatch.StartNew();

        var read = Task.Run(() => StoreFile.ReadAll(path, 1024));
        var finished = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(10)));

        Assert.Same(read, finished);
        var e = await Assert.ThrowsAsync<UnsafePathException>(() => read);
        Assert.Contains("FIFO", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
    }

    [Fact]
    public void ASymlinkToDevZeroIsRefused()
    {
        using var tmp = new TempDir();
        var path = tmp.Sub("index.json.blob");
        File.CreateSymbolicLink(path, "/dev/zero");
        var e = Assert.Throws<UnsafePathException>(() => StoreFile.ReadAll(path, 1024));
        Assert.Contains("symbolic link", e.Message);
    }

    [Fact]
    public void ADeviceIsRefused()
    {
        var e = Assert.Throws<UnsafePathException>(() => StoreFile.ReadAll("/dev/zero", 1024));
        Assert.Contains("character device", e.Message);
    }

    [Fact]
    public void AFileLargerThanTheLimitIsRefusedBeforeItIsRead()
    {
        using var tmp = new TempDir();
        var path = tmp.Sub("big.blob");
        using (var f = File.Create(path)) f.SetLength(1L << 40); // sparse: 1 TiB, nothing to read
        var e = Assert.Throws<FormatCorruptException>(() => StoreFile.ReadAll(path, 16 * 1024 * 1024 + 44));
        Assert.Contains("too large", e.Message);
    }

    [Fact]
    public void AMissingFileIsFileNotFound()
    {
        using var tmp = new TempDir();
        Assert.Throws<FileNotFoundException>(() => StoreFile.ReadAll(tmp.Sub("nope"), 10));
    }
}
