using System.Text;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Staging;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tests.Tree;
using BackupFs.FsHost.Tree;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Staging;

/// <summary>
/// A mount with a write key commits encrypted snapshots from staging (real FUSE mount), for a key
/// file of each kdf; the next commit reuses payload only from the same key; the snapshot reads back
/// through the mount and through `restore --keyfile`.
/// </summary>
[Collection("fuse")]
public class EncryptedStagingTests : IDisposable
{
    private static readonly StagingOptions Manual = new() { CommitDelay = TimeSpan.FromHours(1), OpenFilesWait = TimeSpan.FromSeconds(1) };
    private readonly ITestOutputHelper _output;
    private readonly TempDir _tmp = new();
    public EncryptedStagingTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => _tmp.Dispose();

    private static string Commit(string session)
    {
        var (code, stdout, stderr) = Task.Run(() => CliRunner.RunAsync("commit", session)).WaitAsync(TimeSpan.FromMinutes(3)).GetAwaiter().GetResult();
        Assert.True(code == 0, $"backupfs commit failed: {stderr}");
        return stdout.Trim();
    }

    /// <summary>rsync as the staging tests use it; whole-second directory times so listings compare exactly.</summary>
    private static void Rsync(string src, string dst)
    {
        var at = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        foreach (var dir in Directory.EnumerateDirectories(src, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Append(src))
        {
            Directory.SetLastWriteTimeUtc(dir, at);
            at = at.AddSeconds(1);
        }
        var r = Bounded.RunWithTimeout(TimeSpan.FromMinutes(3), "rsync", "-aHAX", "--delete", src.TrimEnd('/') + "/", dst.TrimEnd('/') + "/");
        Assert.True(r.ExitCode == 0, $"rsync failed ({r.ExitCode}): {r.Stderr}");
    }

    private void MakeTree(string src)
    {
        var rng = new Random(7);
        for (int i = 0; i < 12; i++)
        {
            var dir = Path.Combine(src, $"d{i % 3}");
            Directory.CreateDirectory(dir);
            var data = new byte[i == 0 ? 2_000_000 : 5000 + i * 311];
            rng.NextBytes(data);
            File.WriteAllBytes(Path.Combine(dir, $"f{i}.bin"), data);
        }
        File.WriteAllText(Path.Combine(src, "hello.txt"), "hello\n");
    }

    [FuseTheory]
    [InlineData("scrypt")]
    [InlineData("pbkdf2")]
    [InlineData("none")]
    public async Task StagingCommitsAreEncryptedAndReadBack(string kdf)
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var keyPath = _tmp.Sub($"key-{kdf}.json");
        KeyFile.Create(CryptKey.Generate(), KeyDerivation.ForName(kdf), "staging passphrase"u8).Save(keyPath);
        var key = KeyFile.Load(keyPath).Open("staging passphrase"u8);
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var src = _tmp.Sub("src");
        MakeTree(src);
        string first, second;
        using (var mount = new DatastoreMount(store, new TreeOptions { Keys = new KeyRing([key]) }, Manual with { WriteKey = key, Keys = new KeyRing([key]) }))
        {
            var session = mount.PathOf("staging/host/enc");
            Rsync(src, session);
            first = Commit(session);
            Assert.Equal(CliRunner.MkTree("--list", src), Bounded.Io(() => CliRunner.MkTree("--list", mount.PathOf(first + "/root.pxar"))));

            File.WriteAllText(Path.Combine(src, "hello.txt"), "changed\n");
            Rsync(src, session);
            second = Commit(session);
            Assert.Equal(CliRunner.MkTree("--list", src), Bounded.Io(() => CliRunner.MkTree("--list", mount.PathOf(second + "/root.pxar"))));
            Assert.True(mount.Staging!.Sessions.Single().LastResult!.Split.ReusedFiles >= 12, "unchanged files reuse the same key's payload");
            Assert.Empty(mount.Errors);
        }

        foreach (var name in new[] { first, second })
        {
            var dir = store.FullPath(SnapshotRef.Parse(name).RelativePath);
            var json = DataBlob.Decode(File.ReadAllBytes(Path.Combine(dir, "index.json.blob")));
            var manifest = BackupManifest.Parse(json);
            Assert.All(manifest.Files, f => Assert.Equal(CryptMode.Encrypt, f.CryptMode));
            ManifestSignature.Check(manifest, json, key);
        }
        Assert.All(Directory.EnumerateFiles(Path.Combine(store.Root, ".chunks"), "*", SearchOption.AllDirectories),
            c => Assert.True(EncryptedBlob.IsEncrypted(File.ReadAllBytes(c))));

        // Without the key the committed tree stays closed.
        using var chunks = new CachedChunkSource(new DecodingChunkSource(store.Chunks));
        Assert.Throws<EncryptedDataException>(() => SnapshotReader.Open(store, SnapshotRef.Parse(second), chunks).OpenIndex("root.mpxar.didx"));
        if (kdf == "none")
        {
            // The CLI restores it with the key file (no passphrase needed for kdf none).
            var restored = _tmp.Sub("restored");
            await CliRunner.RunOkAsync("restore", store.Root, second, "root.pxar", restored, "--keyfile", keyPath);
            Assert.Equal(CliRunner.MkTree("--list", src), CliRunner.MkTree("--list", restored));
            var verify = await CliRunner.RunOkAsync("verify", store.Root, "--keyfile", keyPath);
            Assert.Contains("GCM tags and keyed digests checked", verify);
        }
    }

    [FuseFact]
    public void PlainBaseIsNotReusedByAnEncryptedCommit()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        var store = DataStore.CreateLocal(_tmp.Sub("ds"));
        var src = _tmp.Sub("src");
        MakeTree(src);
        using (var plain = new DatastoreMount(store, staging: Manual))
        {
            var session = plain.PathOf("staging/host/mixed");
            Rsync(src, session);
            Commit(session);
        }
        var key = new CryptKey(Encoding.ASCII.GetBytes("0123456789abcdef0123456789abcdef"));
        using var mount = new DatastoreMount(store, new TreeOptions { Keys = new KeyRing([key]) }, Manual with { WriteKey = key, Keys = new KeyRing([key]) });
        var s = mount.PathOf("staging/host/mixed");
        File.WriteAllText(Path.Combine(s, "hello.txt"), "again\n");
        var name = Commit(s);
        Assert.Equal(0, mount.Staging!.Sessions.Single().LastResult!.Split.ReusedFiles);
        var manifest = BackupManifest.FromBlob(File.ReadAllBytes(Path.Combine(store.FullPath(SnapshotRef.Parse(name).RelativePath), "index.json.blob")));
        Assert.All(manifest.Files, f => Assert.Equal(CryptMode.Encrypt, f.CryptMode));
        Assert.Equal("again\n", Bounded.Io(() => File.ReadAllText(mount.PathOf(name + "/root.pxar/hello.txt"))));
    }
}
