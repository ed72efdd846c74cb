using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>The argument rules as commands apply them: forget's explicit snapshot, and the same refusals everywhere.</summary>
public sealed class BackupPathCliTests : IAsyncLifetime, IDisposable
{
    private readonly TempDir _tmp = new();
    private string Store => _tmp.Sub("ds");
    private string _snapshot = "";

    public async Task InitializeAsync()
    {
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "f"), "x");
        await CliRunner.RunOkAsync("init", Store);
        _snapshot = (await CliRunner.RunOkAsync("backup", Store, src, "--type", "host", "--id", "h", "--ns", "team/a")).Trim();
    }

    public Task DisposeAsync() => Task.CompletedTask;
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public async Task ForgetRefusesAGroupAndRemovesNothing()
    {
        var (code, _, err) = await CliRunner.RunAsync("forget", Store, "host/h", "--ns", "team/a");
        Assert.Equal(1, code);
        Assert.Equal("error: forget needs an explicit snapshot, <type>/<id>/<YYYY-MM-DDTHH:MM:SSZ>; 'host/h' is a group (see its snapshots with 'backupfs snapshots')", err.Trim());
        Assert.Contains(_snapshot, await CliRunner.RunOkAsync("snapshots", Store, "--all-namespaces"));

        await CliRunner.RunOkAsync("forget", Store, _snapshot);
        Assert.Equal("", (await CliRunner.RunOkAsync("snapshots", Store, "--all-namespaces")).Trim());
    }

    [Fact]
    public async Task EveryOtherSnapshotArgumentTakesTheGroupForItsLatest()
    {
        Assert.Contains("protected", await CliRunner.RunOkAsync("protect", Store, "ns/team/ns/a/host/h"));
        Assert.Contains("unprotected", await CliRunner.RunOkAsync("unprotect", Store, "host/h", "--ns", "team/a"));
        await CliRunner.RunOkAsync("restore", Store, "ns/team/ns/a/host/h", "root.pxar", _tmp.Sub("t1"));
        Assert.Equal("x", File.ReadAllText(Path.Combine(_tmp.Sub("t1"), "f")));
        Assert.Contains("1 ok", await CliRunner.RunOkAsync("verify", Store, "host/h", "--ns", "team/a"));
    }

    [Theory]
    [InlineData("restore", "{store}", "/ns/team/ns/a/host/h", "root.pxar", "{tmp}/t")]
    [InlineData("cat", "{store}", "ns/team/ns/a/host/../h", "root.pxar")]
    [InlineData("verify", "{store}", "host//h")]
    [InlineData("protect", "{store}", "ns/team/ns/a/host/h", "--ns", "team/a")]
    [InlineData("prune", "{store}", "host/h/2025-01-01T00:00:00Z", "--keep-last", "1")]
    [InlineData("owner", "{store}", "ns/team/ns/a/host/h", "--ns", "team")]
    [InlineData("snapshots", "{store}", "--ns", "/team")]
    [InlineData("ns", "create", "{store}", "team/../b")]
    [InlineData("backup", "{store}", "{tmp}/src", "--id", "h", "--ns", "team//a")]
    public async Task BadPathsGiveOneErrorLine(params string[] template)
    {
        var args = template.Select(a => a.Replace("{store}", Store).Replace("{tmp}", _tmp.Path)).ToArray();
        var (code, _, err) = await CliRunner.RunAsync(args);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
