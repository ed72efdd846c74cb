using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.FsHost.Fuse;
using BackupFs.FsHost.Tests.Cli;
using BackupFs.FsHost.Tests.Fuse;
using BackupFs.FsHost.Tree;
using Xunit.Abstractions;

namespace BackupFs.FsHost.Tests.Tree;

/// <summary>
/// tests/vectors/encrypted/store mounted for real: with both keys every snapshot reads exactly
/// (pxar v1 and split, image, blobs); without a snapshot's key its encrypted files are EACCES and
/// the log names the fingerprint once.
/// </summary>
[Collection("fuse")]
public class MountedEncryptedStoreTests
{
    private readonly ITestOutputHelper _output;
    public MountedEncryptedStoreTests(ITestOutputHelper output) => _output = output;

    private static string Enc(string name) => Path.Combine(TestPaths.Vectors, "encrypted", name);
    private static DataStore VectorStore => DataStore.OpenLocal(Enc("store"));
    private static byte[] Passphrase => Encoding.UTF8.GetBytes(File.ReadAllLines(Enc("passphrase.txt"))[0]);
    private static CryptKey K1 => KeyFile.Load(Enc("key-scrypt.json")).Open(Passphrase);
    private static CryptKey K2 => KeyFile.Load(Enc("key-none.json")).Open(default);
    private static string Normalize(string json) => System.Text.Json.JsonSerializer.Serialize(System.Text.Json.JsonDocument.Parse(json).RootElement);
    private static string Listing => Normalize(File.ReadAllText(Path.Combine(TestPaths.Vectors, "pxar", "A.listing.json")));
    private const string HostsSha = "b63d1a873379fd7c69bda1603e1991bf030c271ca425c925c5d251bcbbce51ae";

    private static string Sha(string path) => Convert.ToHexStringLower(Bounded.Io(() => SHA256.HashData(File.ReadAllBytes(path))));

    [FuseFact]
    public void TwoKeysOpenEverySnapshotExactly()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        using var mount = new DatastoreMount(VectorStore, new TreeOptions { Keys = new KeyRing([K1, K2]) });

        Assert.Equal(Listing, Normalize(Bounded.Io(() => CliRunner.MkTree("--list", mount.PathOf("host/enc/2025-12-01T10:00:00Z/root.pxar")))));
        Assert.Equal(Listing, Normalize(Bounded.Io(() => CliRunner.MkTree("--list", mount.PathOf("ns/team/host/enc-split/2025-12-01T11:00:00Z/root.pxar")))));
        Assert.Equal(Listing, Normalize(Bounded.Io(() => CliRunner.MkTree("--list", mount.PathOf("host/signonly/2025-12-01T13:00:00Z/root.pxar")))));
        Assert.Equal(HostsSha, Sha(mount.PathOf("host/enc/2025-12-01T10:00:00Z/hosts.conf")));
        Assert.Equal(HostsSha, Sha(mount.PathOf("host/signonly/2025-12-01T13:00:00Z/hosts.conf")));
        Assert.Equal(File.ReadAllText(Enc("image.sha256")).Split(' ')[0], Sha(mount.PathOf("vm/200/2025-12-01T12:00:00Z/drive-scsi0.img")));
        Assert.Equal("ccaec46024d26d459a8d65fa2f46104e98f5ccf1e265a11a93f372523c184484", Sha(mount.PathOf("vm/200/2025-12-01T12:00:00Z/qemu-server.conf")));
        Assert.Empty(mount.Errors);
    }

    [FuseFact]
    public void MissingKeyIsEaccesWithOneLogLineNamingTheFingerprint()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        using var mount = new DatastoreMount(VectorStore, new TreeOptions { Keys = new KeyRing([K1]) });
        var split = mount.PathOf("ns/team/host/enc-split/2025-12-01T11:00:00Z");
        // The snapshot lists (its manifest is plain), its encrypted archive is EACCES, every time.
        Assert.Contains("root.pxar", Bounded.Io(() => Directory.GetFileSystemEntries(split)).Select(Path.GetFileName));
        for (int i = 0; i < 3; i++)
        {
            var e = Assert.ThrowsAny<UnauthorizedAccessException>(() => Bounded.Io(() => Directory.GetFileSystemEntries(Path.Combine(split, "root.pxar"))));
            Assert.NotNull(e);
        }
        Assert.ThrowsAny<UnauthorizedAccessException>(() => Bounded.Io(() => File.ReadAllBytes(Path.Combine(split, "root.pxar", "a"))));
        // K1's snapshots still read.
        Assert.Equal(HostsSha, Sha(mount.PathOf("host/enc/2025-12-01T10:00:00Z/hosts.conf")));
        var lines = mount.Errors.Where(l => l.Contains("03:9e:a3:a0:56:f4:f8:a1")).ToList();
        Assert.Single(lines);
        Assert.Contains("enc-split", lines[0]);
    }

    [FuseFact]
    public void NoKeysLeaveEncryptedFilesEaccesAndSignOnlyReadable()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        using var mount = new DatastoreMount(VectorStore);
        Assert.ThrowsAny<UnauthorizedAccessException>(() => Bounded.Io(() => File.ReadAllBytes(mount.PathOf("host/enc/2025-12-01T10:00:00Z/hosts.conf"))));
        Assert.ThrowsAny<UnauthorizedAccessException>(() => Bounded.Io(() => File.ReadAllBytes(mount.PathOf("vm/200/2025-12-01T12:00:00Z/drive-scsi0.img"))));
        // sign-only data is plain: readable (signature unchecked without the key), as before.
        Assert.Equal(HostsSha, Sha(mount.PathOf("host/signonly/2025-12-01T13:00:00Z/hosts.conf")));
        Assert.Single(mount.Errors, l => l.Contains("5c:a4:87:6e:e3:3c:a2:50") && l.Contains("host/enc/"));
    }

    [FuseFact]
    public void ManifestChangedAfterSigningMakesTheSnapshotUnreadable()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        using var tmp = new TempDir();
        CopyDirectory(Enc("store"), tmp.Sub("store"));
        File.Copy(Enc("negative/wrong-signature.index.json.blob"), Path.Combine(tmp.Sub("store"), "host/enc/2025-12-01T10:00:00Z/index.json.blob"), overwrite: true);
        using var mount = new DatastoreMount(DataStore.OpenLocal(tmp.Sub("store")), new TreeOptions { Keys = new KeyRing([K1]) });
        var e = Assert.ThrowsAny<IOException>(() => Bounded.Io(() => File.ReadAllBytes(mount.PathOf("host/enc/2025-12-01T10:00:00Z/hosts.conf"))));
        Assert.NotNull(e);
        Assert.Contains(mount.Errors, l => l.Contains("wrong signature in manifest"));
    }

    /// <summary>The real program in the background: the passphrase is read by the parent and handed to the detached mount.</summary>
    [FuseFact]
    public void BackgroundMountWithPassphraseKeyAndSecondKey()
    {
        if (!FuseEnvironment.Usable(_output)) return;
        using var tmp = new TempDir();
        var mnt = tmp.Sub("mnt");
        Directory.CreateDirectory(mnt);
        try
        {
            var started = RunWithEnv(new() { ["PBS_ENCRYPTION_PASSWORD_FILE"] = Enc("passphrase.txt") },
                BackupFsProgram.Path, "mount", Enc("store"), mnt, "--read-only", "--keyfile", Enc("key-pbkdf2.json"), "--keyfile", Enc("key-none.json"));
            Assert.True(started.ExitCode == 0, started.Stderr);
            Assert.Equal(HostsSha, Sha(Path.Combine(mnt, "host/enc/2025-12-01T10:00:00Z/hosts.conf")));
            Assert.Equal(Listing, Normalize(Bounded.Io(() => CliRunner.MkTree("--list", Path.Combine(mnt, "ns/team/host/enc-split/2025-12-01T11:00:00Z/root.pxar")))));
            Assert.Equal(0, Bounded.Run(BackupFsProgram.Path, "umount", mnt).ExitCode);
            Assert.True(Bounded.Eventually(() => !MountTable.IsFuseMounted(mnt), TimeSpan.FromSeconds(10)));

            var wrong = RunWithEnv(new() { ["PBS_ENCRYPTION_PASSWORD"] = "not the passphrase" },
                BackupFsProgram.Path, "mount", Enc("store"), mnt, "--read-only", "--keyfile", Enc("key-scrypt.json"));
            Assert.Equal(1, wrong.ExitCode);
            Assert.StartsWith("error: Unable to decrypt key (wrong password?)", wrong.Stderr.Trim());
            Assert.False(MountTable.IsFuseMounted(mnt));
        }
        finally { BackupFsProgram.UnmountQuietly(mnt); }
    }

    internal static ToolResult RunWithEnv(Dictionary<string, string> env, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var v in new[] { "PBS_ENCRYPTION_PASSWORD", "PBS_ENCRYPTION_PASSWORD_FILE", "PBS_ENCRYPTION_PASSWORD_FD" }) start.Environment.Remove(v);
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        p.StandardInput.Close(); // no terminal: a prompt would be an error, never a hang
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} did not finish");
        }
        p.WaitForExit();
        return new ToolResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    internal static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to));
    }
}
