using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>Archive names as users type them, mapped to a snapshot's server files in one place.</summary>
public class ArchiveResolverTests
{
    private static readonly string[] V1 = ["root.pxar.didx", "catalog.pcat1.didx", "drive-scsi0.img.fidx", "qemu-server.conf.blob"];
    private static readonly string[] Split = ["root.mpxar.didx", "root.ppxar.didx"];

    [Theory]
    [InlineData("root.pxar", ArchiveKind.Pxar, "root.pxar.didx")]
    [InlineData("root.pxar.didx", ArchiveKind.Pxar, "root.pxar.didx")]
    [InlineData("drive-scsi0.img", ArchiveKind.Image, "drive-scsi0.img.fidx")]
    [InlineData("drive-scsi0.img.fidx", ArchiveKind.Image, "drive-scsi0.img.fidx")]
    [InlineData("qemu-server.conf", ArchiveKind.Blob, "qemu-server.conf.blob")]
    [InlineData("catalog.pcat1", ArchiveKind.Stream, "catalog.pcat1.didx")]
    [InlineData("client.log", ArchiveKind.Blob, "client.log.blob")] // not in the manifest, still addressable
    public void V1Names(string name, ArchiveKind kind, string file)
    {
        var found = ArchiveResolver.Find(V1, name);
        Assert.Equal(new SnapshotArchive(kind, file), found);
    }

    [Fact]
    public void ASplitPairIsAddressedByItsCommonName()
    {
        Assert.Equal(new SnapshotArchive(ArchiveKind.Pxar, "root.mpxar.didx", "root.ppxar.didx"), ArchiveResolver.Find(Split, "root.pxar"));
        Assert.Equal(new SnapshotArchive(ArchiveKind.Pxar, "root.mpxar.didx", "root.ppxar.didx"), ArchiveResolver.Find(Split, "root.mpxar.didx"));
        // The payload half by its server name is a raw stream, as before.
        Assert.Equal(new SnapshotArchive(ArchiveKind.Stream, "root.ppxar.didx"), ArchiveResolver.Find(Split, "root.ppxar.didx"));
        foreach (var name in new[] { "root", "root.pxar", "root.mpxar", "root.ppxar", "root.mpxar.didx" })
            Assert.Equal(new SnapshotArchive(ArchiveKind.Pxar, "root.mpxar.didx", "root.ppxar.didx"), ArchiveResolver.FindPxar(Split, name));
        Assert.Throws<FormatCorruptException>(() => ArchiveResolver.FindPxar(["root.mpxar.didx"], "root.pxar"));
    }

    [Theory]
    [InlineData("nope.img")]
    [InlineData("root")]
    [InlineData("../root.pxar")]
    [InlineData("/etc/passwd")]
    [InlineData("")]
    public void UnknownNamesAreNotFound(string name)
    {
        Assert.Null(ArchiveResolver.Find(V1, name));
        var snapshot = new SnapshotRef(BackupGroup.Parse("host/a"), 1);
        var e = Assert.Throws<BackupFsException>(() => ArchiveResolver.Resolve(V1, name, snapshot));
        Assert.Equal($"snapshot host/a/1970-01-01T00:00:01Z has no archive '{name}' (it has: {string.Join(", ", V1)})", e.Message);
    }

    [Theory]
    [InlineData("root.pxar.didx", "root.pxar")]
    [InlineData("root.mpxar.didx", "root.pxar")]
    [InlineData("root.ppxar.didx", null)]
    [InlineData("drive-scsi0.img.fidx", "drive-scsi0.img")]
    [InlineData("qemu-server.conf.blob", "qemu-server.conf")]
    [InlineData("catalog.pcat1.didx", "catalog.pcat1")]
    public void ShownNames(string file, string? shown) => Assert.Equal(shown, ArchiveResolver.ShownName(file));

    [Fact]
    public void PxarNamesListEachArchiveOnce() =>
        Assert.Equal(new[] { "root.pxar", "data.pxar" }, ArchiveResolver.PxarNames(["root.pxar.didx", "data.mpxar.didx", "data.ppxar.didx", "x.img.fidx"]));
}
