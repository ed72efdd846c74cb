using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tests.Tree;

namespace BackupFs.FsHost.Tests.Cli;

/// <summary>
/// The encryption commands as a user runs them: key create/show/change-passphrase, backup with
/// --keyfile (encrypt, sign-only, master key) and restore/cat/verify, wrong keys and passphrases.
/// Commands that need a passphrase run the real program with the PBS_ENCRYPTION_PASSWORD*
/// variables in its own environment (never this test process's).
/// </summary>
public class EncryptionCliTests : IDisposable
{
    private readonly TempDir _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private static string Enc(string name) => Path.Combine(TestPaths.Vectors, "encrypted", name);

    private static ToolResult Run(Dictionary<string, string> env, params string[] args) =>
        MountedEncryptedStoreTests.RunWithEnv(env, BackupFsProgram.Path, args);

    private string MakeSource()
    {
        var src = _tmp.Sub("src");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        var data = new byte[3_000_000];
        new Random(3).NextBytes(data.AsSpan(0, 2_000_000));
        File.WriteAllBytes(Path.Combine(src, "sub", "data.bin"), data);
        File.WriteAllText(Path.Combine(src, "hello.txt"), "hello\n");
        return src;
    }

    [Fact]
    public void KeyCreateShowChangePassphraseWithEachKdf()
    {
        foreach (var kdf in new[] { "scrypt", "pbkdf2", "none" })
        {
            var path = _tmp.Sub($"key-{kdf}.json");
            var created = Run(new() { ["PBS_ENCRYPTION_PASSWORD"] = "first passphrase" }, "key", "create", path, "--kdf", kdf);
            Assert.True(created.ExitCode == 0, created.Stderr);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            var json = JsonNode.Parse(File.ReadAllText(path))!;
            var fingerprint = json["fingerprint"]!.GetValue<string>();
            Assert.Matches("^([0-9a-f]{2}:){31}[0-9a-f]{2}$", fingerprint);
            // The raw key never appears in the output (kdf none: it is the file's data).
            if (kdf == "none") Assert.DoesNotContain(json["data"]!.GetValue<string>(), created.Stdout + created.Stderr);

            var show = Run(new(), "key", "show", path);
            Assert.Equal(0, show.ExitCode);
            Assert.Contains($"fingerprint: {fingerprint}", show.Stdout);
            Assert.Contains($"kdf:         {kdf}", show.Stdout);

            // Refuses to overwrite.
            Assert.Equal(1, Run(new() { ["PBS_ENCRYPTION_PASSWORD"] = "first passphrase" }, "key", "create", path).ExitCode);

            var changed = Run(new() { ["PBS_ENCRYPTION_PASSWORD"] = "first passphrase", ["BACKUPFS_NEW_ENCRYPTION_PASSWORD"] = "second passphrase" },
                "key", "change-passphrase", path, "--kdf", "pbkdf2");
            Assert.True(changed.ExitCode == 0, changed.Stderr);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            var after = KeyFile.Load(path);
            Assert.Equal(json["created"]!.GetValue<string>(), after.Created);
            Assert.Equal(fingerprint, after.Open("second passphrase"u8).Fingerprint.Full);
        }
    }

    [Fact]
    public void KeyShowPrintsTheVectorFingerprints()
    {
        Assert.Contains("fingerprint: 5c:a4:87:6e:e3:3c:a2:50:19:b2:20:66:3f:ff:57:8b:0e:4d:f5:c1:d4:aa:bf:38:c7:95:28:97:d9:ad:89:de", Run(new(), "key", "show", Enc("key-scrypt.json")).Stdout);
        Assert.Contains("fingerprint: 03:9e:a3:a0:56:f4:f8:a1:38:b7:13:34:68:13:9e:52:ef:08:e1:07:12:3c:16:0a:a4:49:6f:fc:41:c9:90:8f", Run(new(), "key", "show", Enc("key-none.json")).Stdout);
    }

    [Theory]
    [InlineData("scrypt")]
    [InlineData("pbkdf2")]
    [InlineData("none")]
    public void BackupEncryptedRestoreWithEachKdfAndPassphraseSource(string kdf)
    {
        var src = MakeSource();
        var store = _tmp.Sub("ds");
        var key = _tmp.Sub("key.json");
        var passFile = _tmp.Sub("pass.txt");
        File.WriteAllText(passFile, "file passphrase\nsecond line is ignored\n");
        Assert.Equal(0, Run(new() { ["PBS_ENCRYPTION_PASSWORD"] = "file passphrase" }, "key", "create", key, "--kdf", kdf).ExitCode);
        Assert.Equal(0, Run(new(), "init", store).ExitCode);
        var env = new Dictionary<string, string> { ["PBS_ENCRYPTION_PASSWORD_FILE"] = passFile };

        var backup = Run(env, "backup", store, src, "--id", "web", "--keyfile", key, "--master-pubkey-file", Enc("master-public.pem"));
        Assert.True(backup.ExitCode == 0, backup.Stderr);
        Assert.Contains("Encryption key fingerprint: ", backup.Stderr);
        var snapshot = backup.Stdout.Trim();
        var dir = Path.Combine(store, snapshot);
        var manifest = BackupManifest.FromBlob(File.ReadAllBytes(Path.Combine(dir, "index.json.blob")));
        Assert.All(manifest.Files, f => Assert.Equal(CryptMode.Encrypt, f.CryptMode));
        Assert.Contains(manifest.Files, f => f.Filename == "rsa-encrypted.key.blob");

        var restored = _tmp.Sub("restored");
        var restore = Run(env, "restore", store, snapshot, "root.pxar", restored, "--keyfile", key);
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, "sub", "data.bin")), File.ReadAllBytes(Path.Combine(restored, "sub", "data.bin")));
        Assert.Equal(CliRunner.MkTree("--list", src), CliRunner.MkTree("--list", restored));

        var cat = Run(env, "cat", store, snapshot, "root.pxar", "hello.txt", "--keyfile", key);
        Assert.Equal("hello\n", cat.Stdout);

        // Without a key: one clear error naming the key.
        var blind = Run(new(), "cat", store, snapshot, "root.pxar", "hello.txt");
        Assert.Equal(1, blind.ExitCode);
        Assert.Contains("is encrypted with key ", blind.Stderr);
        Assert.Equal("", blind.Stdout);
        if (kdf != "none")
        {
            var wrong = Run(new() { ["PBS_ENCRYPTION_PASSWORD"] = "not the passphrase" }, "cat", store, snapshot, "root.pxar", "hello.txt", "--keyfile", key);
            Assert.Equal(1, wrong.ExitCode);
            Assert.Equal("error: Unable to decrypt key (wrong password?)", wrong.Stderr.Trim());
            Assert.Equal("", wrong.Stdout);
            var none = Run(new(), "cat", store, snapshot, "root.pxar", "hello.txt", "--keyfile", key);
            Assert.Equal(1, none.ExitCode);
            Assert.Contains("a passphrase is needed", none.Stderr);
        }

        // verify: without the key says what it could not check; with it, all of it.
        var verifyBlind = Run(new(), "verify", store);
        Assert.Equal(0, verifyBlind.ExitCode);
        Assert.Contains("no GCM tag, keyed digest or signature", verifyBlind.Stdout);
        var verify = Run(env, "verify", store, "--keyfile", key);
        Assert.Equal(0, verify.ExitCode);
        Assert.Contains("signature, GCM tags and keyed digests checked", verify.Stdout);
    }

    [Fact]
    public async Task WrongKeySignOnlyAndChangedManifestAreClearErrors()
    {
        var src = MakeSource();
        var store = _tmp.Sub("ds");
        await CliRunner.RunOkAsync("init", store);
        var snapshot = (await CliRunner.RunOkAsync("backup", store, src, "--id", "signed", "--keyfile", Enc("key-none.json"), "--crypt-mode", "sign-only")).Trim();
        var manifest = BackupManifest.FromBlob(File.ReadAllBytes(Path.Combine(store, snapshot, "index.json.blob")));
        Assert.All(manifest.Files, f => Assert.Equal(CryptMode.SignOnly, f.CryptMode));
        Assert.NotNull(manifest.Signature);

        // Sign-only data is plain: readable without the key (with a warning), checked with it.
        var (code, output, error) = await CliRunner.RunAsync("cat", store, snapshot, "root.pxar", "hello.txt");
        Assert.Equal(0, code);
        Assert.Contains("signature is not checked", error);
        Assert.Equal("hello\n", Run(new(), "cat", store, snapshot, "root.pxar", "hello.txt", "--keyfile", Enc("key-none.json")).Stdout); // cat writes to the real stdout

        // Another key: "wrong key", never data.
        var other = _tmp.Sub("other.json");
        KeyFile.Create(CryptKey.Generate(), null, default).Save(other);
        var wrong = Run(new(), "cat", store, snapshot, "root.pxar", "hello.txt", "--keyfile", other);
        Assert.Equal(1, wrong.ExitCode);
        Assert.StartsWith("error: wrong key - manifest's key 03:9e:a3:a0:56:f4:f8:a1 does not match provided key ", wrong.Stderr.Trim());
        Assert.Equal("", wrong.Stdout);

        // A manifest changed after signing.
        var blobPath = Path.Combine(store, snapshot, "index.json.blob");
        var json = JsonNode.Parse(DataBlob.Decode(File.ReadAllBytes(blobPath)))!;
        json["backup-id"] = "signed"; // unchanged value: a real change below
        json["files"]![0]!["size"] = json["files"]![0]!["size"]!.GetValue<long>() + 1;
        File.WriteAllBytes(blobPath, DataBlob.Encode(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString())));
        var changed = await CliRunner.RunAsync("cat", store, snapshot, "root.pxar", "hello.txt", "--keyfile", Enc("key-none.json"));
        Assert.Equal(1, changed.Code);
        Assert.Contains("wrong signature in manifest", changed.Err);

        // Option rules as the client's.
        Assert.Contains("needs --keyfile", (await CliRunner.RunAsync("backup", store, src, "--id", "x", "--crypt-mode", "encrypt")).Err);
        Assert.Contains("does not take --keyfile", (await CliRunner.RunAsync("backup", store, src, "--id", "x", "--crypt-mode", "none", "--keyfile", Enc("key-none.json"))).Err);
    }

    [Fact]
    public void PassphraseFromAnInheritedDescriptor()
    {
        // PBS_ENCRYPTION_PASSWORD_FD: the first line read from a descriptor the caller opened.
        var script = $"exec 5<'{Enc("passphrase.txt")}'; PBS_ENCRYPTION_PASSWORD_FD=5 exec '{BackupFsProgram.Path}' cat '{Enc("store")}' host/enc/2025-12-01T10:00:00Z hosts.conf --keyfile '{Enc("key-pbkdf2.json")}'";
        var r = MountedEncryptedStoreTests.RunWithEnv(new(), "bash", "-c", script);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("b63d1a873379fd7c69bda1603e1991bf030c271ca425c925c5d251bcbbce51ae", Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(r.Stdout))));
    }

    [Fact]
    public async Task VectorStoreRestoresWithTheRightKeysOnly()
    {
        var store = Enc("store");
        var target = _tmp.Sub("img");
        var restore = Run(new() { ["PBS_ENCRYPTION_PASSWORD_FILE"] = Enc("passphrase.txt") },
            "restore", store, "vm/200/2025-12-01T12:00:00Z", "drive-scsi0.img", target, "--keyfile", Enc("key-scrypt.json"));
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(File.ReadAllText(Enc("image.sha256")).Split(' ')[0], Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(target))));
        var wrong = await CliRunner.RunAsync("restore", store, "vm/200/2025-12-01T12:00:00Z", "drive-scsi0.img", _tmp.Sub("x"), "--keyfile", Enc("key-none.json"));
        Assert.Equal(1, wrong.Code);
        Assert.Contains("wrong key", wrong.Err);
        Assert.False(File.Exists(_tmp.Sub("x")));
    }
}
