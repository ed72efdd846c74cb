using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Store;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Content;

namespace BackupFs.S3.Tests.Unit;

public class S3SnapshotUploaderTests
{
    private sealed class RecordingMirror : IContentMirror
    {
        public readonly List<(string Path, bool NoReplace, int Length)> Puts = new();
        public ValueTask PutAsync(string relativePath, ReadOnlyMemory<byte> data, bool noReplace, CancellationToken ct = default)
        {
            Puts.Add((relativePath, noReplace, data.Length));
            return ValueTask.CompletedTask;
        }
        public ValueTask DeleteAsync(string relativePath, CancellationToken ct = default) => ValueTask.CompletedTask;
        public ValueTask DeletePrefixAsync(string relativeDirectory, CancellationToken ct = default) => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task TheManifestGoesLastAndTempFilesStayLocal()
    {
        using var dir = new TempDir();
        const string snap = "ns/a/vm/100/2025-07-14T14:20:02Z";
        var local = Directory.CreateDirectory(Path.Combine(dir.Path, snap)).FullName;
        foreach (var name in new[] { "index.json.blob", "drive-scsi0.img.fidx", ".protected", "qemu-server.conf.blob", "root.pxar.tmp_didx", "index.json.blob.tmp_abc123" })
            File.WriteAllBytes(Path.Combine(local, name), new byte[name.Length]);

        var mirror = new RecordingMirror();
        Assert.Equal(4, await S3SnapshotUploader.UploadAsync(mirror, dir.Path, snap));
        Assert.Equal([snap + "/drive-scsi0.img.fidx", snap + "/qemu-server.conf.blob", snap + "/.protected", snap + "/index.json.blob"],
            mirror.Puts.Select(p => p.Path));
        Assert.True(mirror.Puts.Single(p => p.Path.EndsWith(".protected")).NoReplace);
        Assert.False(mirror.Puts.Single(p => p.Path.EndsWith("index.json.blob")).NoReplace);
    }

    [Theory]
    [InlineData("vm/100")]
    [InlineData("vm/100/../..")]
    [InlineData("vm/100/2025-07-14T14:20:02Z/x")]
    public async Task OnlySnapshotDirectoriesAreAccepted(string path)
    {
        using var dir = new TempDir();
        await Assert.ThrowsAsync<InvalidNameException>(() => S3SnapshotUploader.UploadAsync(new RecordingMirror(), dir.Path, path));
    }
}
