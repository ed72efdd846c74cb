using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.FsHost.Staging;

namespace BackupFs.FsHost.Tests.Staging;

public class StagingPathTests
{
    private static StagingPathKind Kind(string path, out BackupGroup? group) =>
        StagingPath.Classify(path.Split('/', StringSplitOptions.RemoveEmptyEntries), out _, out group);

    [Theory]
    [InlineData("host", StagingPathKind.TypeDirectory)]
    [InlineData("vm", StagingPathKind.TypeDirectory)]
    [InlineData("ns", StagingPathKind.NamespaceList)]
    [InlineData("ns/prod", StagingPathKind.Namespace)]
    [InlineData("ns/prod/ns", StagingPathKind.NamespaceList)]
    [InlineData("ns/prod/ns/eu/ct", StagingPathKind.TypeDirectory)]
    [InlineData("host/web1", StagingPathKind.Group)]
    [InlineData("ns/prod/host/web1", StagingPathKind.Group)]
    [InlineData("disk", StagingPathKind.Invalid)]
    [InlineData("host/web1/extra", StagingPathKind.Invalid)]
    [InlineData("host/bad id", StagingPathKind.Invalid)]
    [InlineData("ns/-bad/host/x", StagingPathKind.Invalid)]
    [InlineData("ns/.hidden", StagingPathKind.Invalid)]
    public void ClassifiesPathsWithTheDatastoreRules(string path, StagingPathKind expected) =>
        Assert.Equal(expected, Kind(path, out _));

    [Fact]
    public void GroupPathsGiveTheGroupAndItsSessionDirectory()
    {
        Assert.Equal(StagingPathKind.Group, Kind("ns/prod/host/web1", out var group));
        Assert.Equal("ns/prod/host/web1", group!.RelativePath);
        Assert.Equal(group, StagingPath.ParseGroup("/ns/prod/host/web1/"));
        Assert.Throws<InvalidNameException>(() => StagingPath.ParseGroup("host"));
    }
}
