using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.S3.Content;
using BackupFs.S3.Layout;
using BackupFs.S3.Maintenance;
using BackupFs.S3.Tests.Support;

namespace BackupFs.S3.Tests.Integration;

[Collection(S3GatewayCollection.Name)]
public class S3RefreshTests(S3GatewayFixture gw)
{
    private static readonly S3KeyLayout Layout = new("store1");
    private const string T = "2025-07-14T14:20:02Z";

    private static readonly Dictionary<string, string> Content = new()
    {
        ["vm/100/owner"] = "root@pam\n",
        ["vm/100/notes"] = "group notes",
        [$"vm/100/{T}/index.json.blob"] = "manifest-bytes",
        [$"vm/100/{T}/drive-scsi0.img.fidx"] = "fidx-bytes",
        [$"vm/100/{T}/.protected"] = "",
        ["ns/a/vm/200/owner"] = "user@pbs\n",
        [$"ns/a/ns/b/host/h1/{T}/root.pxar.didx"] = "didx-bytes",
    };

    private static readonly string[] Hostile =
    [
        "store1/.cnt/../../etc/x",
        "store1/.cnt/vm/100/../x",
        "store1/.cnt/vm/100/evil.sh",
        "store1/.cnt/vm/100/" + T + "/run.sh",
        "store1/.cnt/xx/1/owner",
    ];

    [Fact]
    public async Task RefreshRebuildsTheMetadataTreeAndIgnoresHostileKeys()
    {
        var bucket = await gw.NewBucketAsync();
        using var client = gw.Client(bucket);
        var mirror = new S3ContentMirror(client, Layout);
        foreach (var (path, text) in Content) await mirror.PutAsync(path, Encoding.UTF8.GetBytes(text), noReplace: false);
        await mirror.PutAsync("ns/a/.namespace", ReadOnlyMemory<byte>.Empty, noReplace: true);
        await mirror.PutAsync("ns/a/ns/b/.namespace", ReadOnlyMemory<byte>.Empty, noReplace: true);
        await mirror.PutAsync("ns/empty/.namespace", ReadOnlyMemory<byte>.Empty, noReplace: true);
        foreach (var key in Hostile) await client.PutAsync(key, "evil"u8.ToArray(), noReplace: false);
        var stored = await gw.KeysAsync(bucket);
        foreach (var key in Hostile) Assert.Contains(key, stored);   // the gateway keeps '..' keys verbatim

        using var outer = new TempDir();
        var cache = Directory.CreateDirectory(Path.Combine(outer.Path, "a", "b", "cache")).FullName;
        // A stale local tree that is not in the bucket any more.
        Directory.CreateDirectory(Path.Combine(cache, "vm", "999"));
        File.WriteAllText(Path.Combine(cache, "vm", "999", "owner"), "stale\n");

        var warnings = new List<string>();
        var result = await S3Refresh.RunAsync(client, Layout, cache, warnings.Add);

        Assert.Equal(Content.Count, result.Files);
        Assert.Equal(3, result.Namespaces);
        Assert.Equal(Hostile.Length, result.Ignored);
        foreach (var (path, text) in Content)
            Assert.Equal(text, File.ReadAllText(Path.Combine(cache, path)));
        Assert.True(Directory.Exists(Path.Combine(cache, "ns", "empty")));
        Assert.False(Directory.Exists(Path.Combine(cache, "vm", "999")));
        foreach (var key in Hostile) Assert.Single(warnings, w => w.Contains($"'{key}'"));
        // Nothing escaped the cache directory.
        Assert.False(File.Exists(Path.Combine(cache, "x")));
        Assert.False(File.Exists(Path.Combine(cache, "vm", "x")));
        Assert.Empty(Directory.EnumerateFiles(outer.Path, "x", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(outer.Path, "*.sh", SearchOption.AllDirectories));
        Assert.Null(MaintenanceMarker.Read(cache));
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(cache, ".backupfs")));   // temp dir removed
    }

    [Fact]
    public async Task OtherOperationsAreBlockedWhileARefreshRuns()
    {
        using var dir = new TempDir();
        using (MaintenanceMarker.Enter(dir.Path, S3Refresh.MaintenanceMode))
        {
            var e = Assert.Throws<BackupFsException>(() => MaintenanceMarker.ThrowIfActive(dir.Path));
            Assert.Contains("s3-refresh", e.Message);
            var bucket = await gw.NewBucketAsync();
            using var client = gw.Client(bucket);
            await Assert.ThrowsAsync<BackupFsException>(() => S3Refresh.RunAsync(client, Layout, dir.Path, _ => { }));
        }
        MaintenanceMarker.ThrowIfActive(dir.Path);
    }

    [Fact]
    public void AMarkerLeftByADeadProcessIsTakenOver()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, ".backupfs"));
        File.WriteAllText(MaintenanceMarker.MarkerPath(dir.Path), "s3-refresh 999999999\n");
        MaintenanceMarker.ThrowIfActive(dir.Path);
        using var marker = MaintenanceMarker.Enter(dir.Path, S3Refresh.MaintenanceMode);
        Assert.Equal(Environment.ProcessId, MaintenanceMarker.Read(dir.Path)!.Value.Pid);
    }
}
