using BackupFs.Datastore.Catalog;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>A mounted v1 snapshot with a catalog: the archive reads as before, the catalog is one more raw file.</summary>
[Collection("fuse")]
public class CatalogMountTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    public CatalogMountTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        BackupFsProgram.UnmountQuietly(_tmp.Sub("mnt"));
        _tmp.Dispose();
    }

    [FuseFact]
    public async Task SnapshotWithACatalogMountsAsBefore()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = _tmp.Sub("ds");
        var src = _tmp.Sub("src");
        CliRunner.MkTree(src, "mount");
        await CliRunner.RunOkAsync("init", store);
        await CliRunner.RunOkAsync("backup", store, src, "--type", "host", "--id", "m");
        var mnt = _tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        var started = Bounded.Run(BackupFsProgram.Path, "mount", store, mnt);
        Assert.True(started.ExitCode == 0, started.Stderr);

        var snapshot = Path.Combine(mnt, "host/m/latest");
        var names = Bounded.Io(() => Directory.GetFileSystemEntries(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(new[] { "catalog.pcat1", "index.json", "root.pxar" }, names);
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, "a/b/large.bin")), Bounded.Io(() => File.ReadAllBytes(Path.Combine(snapshot, "root.pxar/a/b/large.bin"))));

        var raw = Bounded.Io(() => File.ReadAllBytes(Path.Combine(snapshot, "catalog.pcat1")));
        var catalog = await CatalogReader.OpenAsync(new BytesSource(raw));
        var listed = (await catalog.ListDirectoryAsync("root.pxar.didx")).Select(e => e.NameText);
        var mounted = Bounded.Io(() => Directory.GetFileSystemEntries(Path.Combine(snapshot, "root.pxar")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(mounted, listed);

        Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", mnt).ExitCode);
    }

    private sealed class BytesSource(byte[] data) : IRandomAccessSource
    {
        public long Length => data.Length;
        public ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            if (offset >= data.Length) return ValueTask.FromResult(0);
            int n = (int)Math.Min(buffer.Length, data.Length - offset);
            data.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }
    }
}
