using System.Diagnostics;
using System.Text;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Pxar;

public class PxarEncoderTests
{
    private static string Vec(string name) => Path.Combine(TestPaths.Vectors, "pxar", name);

    internal static string MakeVectorTree(TempDir tmp)
    {
        var dir = tmp.Sub("tree");
        var psi = new ProcessStartInfo("python3") { ArgumentList = { Path.Combine(TestPaths.Vectors, "mktree.py"), dir, "vectorsA" }, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "mktree.py did not finish");
        Assert.True(p.ExitCode == 0, err);
        return dir;
    }

    [Fact]
    public async Task TreeEncodedAsUnifiedArchiveDecodesToTheListingAndMatchesTheReferenceBytes()
    {
        using var tmp = new TempDir();
        var tree = MakeVectorTree(tmp);
        var output = new MemoryStream();
        await PxarTreeEncoder.EncodeAsync(tree, output);
        var bytes = output.ToArray();
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(bytes));
        PxarListing.AssertEqual(PxarListing.FromJson(Vec("A.listing.json")), await PxarListing.FromArchiveAsync(accessor));
        // Same tree, same encoder rules: the reference implementation's bytes exactly.
        var reference = await File.ReadAllBytesAsync(Vec("A.pxar"));
        Assert.Equal(reference.Length, bytes.Length);
        Assert.True(reference.AsSpan().SequenceEqual(bytes), $"first difference at {reference.AsSpan().CommonPrefixLength(bytes)}");
    }

    [Fact]
    public async Task TreeEncodedAsSplitArchiveMatchesTheReferencePair()
    {
        using var tmp = new TempDir();
        var tree = MakeVectorTree(tmp);
        var meta = new MemoryStream();
        var payload = new MemoryStream();
        var fileStarts = new List<long>();
        await PxarTreeEncoder.EncodeAsync(tree, meta, new PxarEncoderOptions { PayloadOutput = payload, BeforeFilePayload = fileStarts.Add });
        var accessor = await PxarAccessor.OpenAsync(new MemorySource(meta.ToArray()), new MemorySource(payload.ToArray()));
        PxarListing.AssertEqual(PxarListing.FromJson(Vec("A.listing.json")), await PxarListing.FromArchiveAsync(accessor));
        Assert.Equal(16, fileStarts[0]);
        Assert.Equal(fileStarts.Count, fileStarts.Distinct().Count());
        var refMeta = await File.ReadAllBytesAsync(Vec("A.mpxar"));
        var refPayload = await File.ReadAllBytesAsync(Vec("A.ppxar"));
        Assert.True(refMeta.AsSpan().SequenceEqual(meta.ToArray()), $"mpxar: first difference at {refMeta.AsSpan().CommonPrefixLength(meta.ToArray())}");
        Assert.True(refPayload.AsSpan().SequenceEqual(payload.ToArray()), "ppxar differs");
    }
}
