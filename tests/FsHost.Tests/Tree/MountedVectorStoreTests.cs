using System.Security.Cryptography;
using System.Text;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>tests/vectors/store mounted for real: the pxar trees (v1 and the split v2 pair) equal
/// A.listing.json, the image equals its generated content.</summary>
[Collection("fuse")]
public class MountedVectorStoreTests
{
    private readonly ITestOutputHelper _output;
    public MountedVectorStoreTests(ITestOutputHelper output) => _output = output;

    private static string VectorListing() => File.ReadAllText(Path.Combine(TestPaths.Vectors, "pxar", "A.listing.json"));

    [FuseFact]
    public void PxarTreesAndImageReadExactly()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.OpenLocal(Path.Combine(TestPaths.Vectors, "store"));
        using var mount = new DatastoreMount(store);

        var expected = Normalize(VectorListing());
        var v1 = Bounded.Io(() => CliRunner.MkTree("--list", mount.PathOf("host/vectors/2025-11-24T16:00:00Z/root.pxar")));
        Assert.Equal(expected, Normalize(v1));
        var v2 = Bounded.Io(() => CliRunner.MkTree("--list", mount.PathOf("ns/team/host/vectors/2025-11-24T17:00:00Z/root.pxar")));
        Assert.Equal(expected, Normalize(v2));

        var image = Bounded.Io(() => File.ReadAllBytes(mount.PathOf("vm/100/2025-11-24T18:00:00Z/drive-scsi0.img")));
        Assert.Equal(9 * 1024 * 1024 + 12345, image.Length);
        for (int i = 0; i * 32 < image.Length; i += 4099) // spot-check blocks across the image
        {
            var block = SHA256.HashData(Encoding.ASCII.GetBytes($"image:{i}"));
            int n = Math.Min(32, image.Length - i * 32);
            Assert.True(image.AsSpan(i * 32, n).SequenceEqual(block.AsSpan(0, n)), $"block {i}");
        }
        Assert.True(Bounded.Io(() => File.Exists(mount.PathOf("vm/100/2025-11-24T18:00:00Z/qemu-server.conf"))));
        Assert.Contains("\"backup-type\": \"vm\"", Bounded.Io(() => File.ReadAllText(mount.PathOf("vm/100/2025-11-24T18:00:00Z/index.json"))));
        Assert.Equal("2025-11-24T18:00:00Z", Bounded.Io(() => new FileInfo(mount.PathOf("vm/100/latest")).LinkTarget));
        Assert.Empty(mount.Errors);
    }

    /// <summary>Parses both listings to JSON objects and re-serialises them, so formatting does not matter.</summary>
    private static string Normalize(string json) =>
        System.Text.Json.JsonSerializer.Serialize(System.Text.Json.JsonDocument.Parse(json).RootElement);
}
