using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Tests.Store;

public class DigestTests
{
    [Fact]
    public void ZeroChunkDigestMatchesPbs()
    {
        var d = Digest.Compute(new byte[4 * 1024 * 1024]);
        Assert.Equal("bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8", d.ToHex());
        Assert.Equal("bb9f", d.Prefix);
        Assert.Equal(d, Digest.Parse(d.ToHex()));
        Assert.Equal(d, Digest.FromBytes(d.ToArray()));
    }

    [Theory]
    [InlineData("")] [InlineData("BB9F8DF61474D25E71FA00722318CD387396CA1736605E1248821CC0DE3D3AF8")]
    [InlineData("bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af")]
    [InlineData("../f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8")]
    public void MalformedHexIsRefused(string hex) => Assert.False(Digest.TryParse(hex, out _));
}
