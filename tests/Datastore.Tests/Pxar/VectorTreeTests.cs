using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

/// <summary>
/// The project's own generator recreates the tree the pxar vectors were made from: its listing is
/// A.listing.json entry for entry (names, types, modes, owners, mtimes, sizes, SHA-256, link counts,
/// targets, xattrs). PxarEncoderTests then encode it into A.pxar and A.mpxar+A.ppxar byte for byte.
/// </summary>
public class VectorTreeTests
{
    [Fact]
    public void GeneratedTreeListsExactlyAsTheVectorListing()
    {
        using var tmp = new TempDir(onDisk: true);
        var tree = tmp.Sub("tree");
        VectorTree.CreateA(tree);
        var expected = PxarListing.FromJson(Path.Combine(TestPaths.Vectors, "pxar", "A.listing.json"));
        PxarListing.AssertEqual(expected, PxarListing.FromDirectory(tree));
    }

    [Fact]
    public void BigTreeHasTheManyDirectoryAndTheDeepChain()
    {
        using var tmp = new TempDir();
        var tree = tmp.Sub("big");
        VectorTree.CreateBig(tree, "bigseed");
        var listing = PxarListing.FromDirectory(tree);
        Assert.Equal(1500, listing.Keys.Count(k => k.StartsWith("many/", StringComparison.Ordinal)));
        var bottom = string.Join('/', Enumerable.Range(0, 24).Select(i => $"level{i}")) + "/bottom";
        Assert.StartsWith("type=- mode=0o644", listing[bottom]);
        // Everything the small tree has is there too, with the big seed's contents.
        Assert.Contains("size=70001", listing["a/b/c/deep.bin"]);
    }
}
