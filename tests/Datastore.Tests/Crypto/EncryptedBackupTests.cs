using System.Security.Cryptography;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Maintenance;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Tests.Pxar;
using BackupFs.Datastore.Tests.TestSupport;
using BackupFs.Datastore.Writing;

namespace BackupFs.Datastore.Tests.Crypto;

/// <summary>Snapshots BackupFs writes in crypt modes encrypt and sign-only, read back by BackupFs and by an independent decryptor.</summary>
public class EncryptedBackupTests : IDisposable
{
    private readonly TempStore _temp = new();
    private readonly CryptKey _key = new(CryptoVectorTests.K1);
    private readonly CryptKey _other = new(CryptoVectorTests.K2);

    public void Dispose() => _temp.Dispose();

    private static byte[] Pseudo(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        for (int i = size / 2; i < size * 3 / 4; i++) data[i] = 0; // a compressible stretch: both encrypted magics
        return data;
    }

    private string ChunkDir => Path.Combine(_temp.Store.Root, ".chunks");

    private async Task<SnapshotRef> WriteAsync(string group, long time, BackupOptions options, byte[] stream, byte[] image, string? masterPem = null)
    {
        await using var writer = await BackupStarter.BeginAsync(_temp.Store, BackupGroup.Parse(group), options with { BackupTime = time, MasterPublicKeyPem = masterPem });
        var d = writer.CreateDynamicArchive("root.pxar.didx", 64 * 1024);
        d.Write(stream);
        await writer.CloseArchiveAsync(d);
        var f = writer.CreateFixedArchive("drive-scsi0.img.fidx");
        f.Write(image);
        await writer.CloseArchiveAsync(f);
        await writer.AddBlobAsync("qemu-server.conf.blob", "memory: 2048\n"u8.ToArray());
        await writer.FinishAsync();
        return writer.Snapshot;
    }

    private async Task<byte[]> ReadAll(IRandomAccessSource source)
    {
        var all = new byte[source.Length];
        int n = 0;
        while (n < all.Length) { int r = await source.ReadAtAsync(n, all.AsMemory(n)); Assert.True(r > 0); n += r; }
        return all;
    }

    [Fact]
    public async Task EncryptedSnapshotRoundTripsAndAnIndependentReaderDecryptsIt()
    {
        var stream = Pseudo(3 * 1024 * 1024 + 77, 1);
        var image = Pseudo(4 * 1024 * 1024 + 4321, 2);
        var pem = File.ReadAllText(CryptoVectorTests.Enc("master-public.pem"));
        var snap = await WriteAsync("vm/300", 1_750_000_000, new BackupOptions { Key = _key }, stream, image, pem);
        var dir = _temp.Store.FullPath(snap.RelativePath);

        // Manifest: plain zstd blob, every file crypt-mode encrypt, key-fingerprint and a valid signature.
        var manifestBlob = File.ReadAllBytes(Path.Combine(dir, "index.json.blob"));
        Assert.Equal(BlobKind.Compressed, DataBlob.GetKind(manifestBlob));
        var json = DataBlob.Decode(manifestBlob);
        var manifest = BackupManifest.Parse(json);
        Assert.All(manifest.Files, f => Assert.Equal(CryptMode.Encrypt, f.CryptMode));
        Assert.Equal(new[] { "rsa-encrypted.key.blob", "root.pxar.didx", "drive-scsi0.img.fidx", "qemu-server.conf.blob" }, manifest.Files.Select(f => f.Filename));
        Assert.Equal(CryptoVectorTests.K1Fingerprint, manifest.Unprotected["key-fingerprint"]!.GetValue<string>());
        ManifestSignature.Check(manifest, json, _key);
        Assert.Matches("^[0-9a-f]{64}$", manifest.Signature);

        // Every chunk in the store is encrypted; nothing plain leaked.
        var chunkFiles = Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(chunkFiles);
        Assert.All(chunkFiles, c => Assert.True(EncryptedBlob.IsEncrypted(File.ReadAllBytes(c))));
        Assert.Contains(chunkFiles, c => DataBlob.GetKind(File.ReadAllBytes(c)) == BlobKind.EncryptedCompressed);
        Assert.Contains(chunkFiles, c => DataBlob.GetKind(File.ReadAllBytes(c)) == BlobKind.Encrypted);

        // The independent decryptor (its own GCM, parsing and digests) gets the plaintexts back.
        var independent = new IndependentDecryptor(CryptoVectorTests.K1);
        Assert.Equal(CryptoVectorTests.K1Fingerprint, independent.Fingerprint);
        Assert.Equal(stream, independent.ReadArchive(Path.Combine(dir, "root.pxar.didx"), ChunkDir));
        Assert.Equal(image, independent.ReadArchive(Path.Combine(dir, "drive-scsi0.img.fidx"), ChunkDir));
        Assert.Equal("memory: 2048\n"u8.ToArray(), independent.DecryptBlob(File.ReadAllBytes(Path.Combine(dir, "qemu-server.conf.blob"))));
        Assert.Equal(HMACSHA256.HashData(independent.IdKey, manifest.CanonicalJsonForSignature()), Convert.FromHexString(manifest.Signature!));

        // BackupFs reads it with the key ...
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        var reader = SnapshotReader.Open(_temp.Store, snap, chunks, new KeyRing([_other, _key]));
        Assert.Same(_key, reader.Key);
        Assert.Equal(stream, await ReadAll(reader.OpenArchive("root.pxar.didx")));
        Assert.Equal(image, await ReadAll(reader.OpenArchive("drive-scsi0.img.fidx")));
        Assert.Equal("memory: 2048\n"u8.ToArray(), reader.ReadBlob("qemu-server.conf.blob"));

        // ... the master key recovers it ...
        var recovered = MasterKey.OpenBlob(File.ReadAllBytes(Path.Combine(dir, MasterKey.BlobName)), File.ReadAllText(CryptoVectorTests.Enc("master-private.pem")),
            File.ReadAllLines(CryptoVectorTests.Enc("master-passphrase.txt"))[0]);
        Assert.Equal(_key.Fingerprint, recovered.Fingerprint);

        // ... and without it (or with another key) nothing decrypts.
        var blind = SnapshotReader.Open(_temp.Store, snap, chunks, new KeyRing([_other]));
        Assert.Null(blind.Key);
        var e = Assert.Throws<EncryptedDataException>(() => blind.OpenArchive("root.pxar.didx"));
        Assert.Contains("5c:a4:87:6e:e3:3c:a2:50", e.Message);
        Assert.Throws<EncryptedDataException>(() => blind.ReadBlob("qemu-server.conf.blob"));
        Assert.Throws<EncryptedDataException>(() => SnapshotReader.Open(_temp.Store, snap, chunks).OpenIndex("drive-scsi0.img.fidx"));
    }

    [Fact]
    public async Task SignOnlySnapshotIsPlainButSigned()
    {
        var stream = Pseudo(500_000, 3);
        var snap = await WriteAsync("host/s", 1_750_000_000, new BackupOptions { Key = _other, CryptMode = CryptMode.SignOnly }, stream, Pseudo(100_000, 4));
        var json = DataBlob.Decode(File.ReadAllBytes(Path.Combine(_temp.Store.FullPath(snap.RelativePath), "index.json.blob")));
        var manifest = BackupManifest.Parse(json);
        Assert.All(manifest.Files, f => Assert.Equal(CryptMode.SignOnly, f.CryptMode));
        ManifestSignature.Check(manifest, json, _other);
        Assert.Throws<CryptoException>(() => ManifestSignature.Check(manifest, json, _key));
        foreach (var c in Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories))
        {
            var raw = File.ReadAllBytes(c);
            Assert.False(EncryptedBlob.IsEncrypted(raw));
            Assert.Equal(Path.GetFileName(c), Digest.Compute(DataBlob.Decode(raw)).ToHex()); // plain names
        }
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        Assert.Equal(stream, await ReadAll(SnapshotReader.Open(_temp.Store, snap, chunks, new KeyRing([_other])).OpenArchive("root.pxar.didx")));
        Assert.Equal(stream, await ReadAll(SnapshotReader.Open(_temp.Store, snap, chunks).OpenArchive("root.pxar.didx")));
    }

    [Fact]
    public async Task CryptoOptionRulesAreChecked()
    {
        await Assert.ThrowsAsync<BackupFsException>(() => BackupStarter.BeginAsync(_temp.Store, BackupGroup.Parse("host/x"), new BackupOptions { CryptMode = CryptMode.SignOnly }));
        await Assert.ThrowsAsync<BackupFsException>(() => BackupStarter.BeginAsync(_temp.Store, BackupGroup.Parse("host/x"), new BackupOptions { Key = _key, CryptMode = CryptMode.None }));
    }

    [Fact]
    public async Task SameKeyDeduplicatesDifferentKeysNeverShareChunks()
    {
        var stream = Pseudo(1_000_000, 5);
        var image = Pseudo(200_000, 6);
        await WriteAsync("host/a", 1_750_000_000, new BackupOptions { Key = _key }, stream, image);
        int after1 = Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).Count();
        await WriteAsync("host/a", 1_750_000_100, new BackupOptions { Key = _key }, stream, image);
        Assert.Equal(after1, Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).Count());
        await WriteAsync("host/b", 1_750_000_000, new BackupOptions { Key = _other }, stream, image);
        Assert.Equal(2 * after1, Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).Count());
        await WriteAsync("host/c", 1_750_000_000, new BackupOptions(), stream, image);
        Assert.Equal(3 * after1, Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).Count());
    }

    [Fact]
    public async Task TamperedChunkIsAnErrorNeverDataAndVerifyWithTheKeyFindsIt()
    {
        var stream = Pseudo(300_000, 7);
        var snap = await WriteAsync("host/t", 1_750_000_000, new BackupOptions { Key = _key }, stream, Pseudo(10_000, 8));
        var index = DynamicIndex.Parse(File.ReadAllBytes(Path.Combine(_temp.Store.FullPath(snap.RelativePath), "root.pxar.didx")));
        var victim = index.DigestAt(0);
        var path = Path.Combine(ChunkDir, victim.Prefix, victim.ToHex());
        var raw = File.ReadAllBytes(path);
        raw[30] ^= 1; // a tag bit: the CRC (ciphertext only) stays valid
        File.WriteAllBytes(path, raw);

        using (var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks)))
        {
            var reader = SnapshotReader.Open(_temp.Store, snap, chunks, new KeyRing([_key]));
            var e = await Assert.ThrowsAsync<CryptoException>(() => ReadAll(reader.OpenArchive("root.pxar.didx")));
            Assert.Contains("authentication failed", e.Message);
        }

        // Without the key verify can only check the CRC: still ok, and it says so.
        var blind = await new Verifier(_temp.Store, new VerifyOptions { RecordState = false }).VerifySnapshotAsync(snap);
        Assert.Equal(VerifyOutcome.Ok, blind.Snapshots[0].Outcome);
        Assert.Contains(blind.Snapshots[0].Notes, n => n.Contains("CRC") && n.Contains("no GCM tag"));
        // With the key the tag fails: the chunk is corrupt and moved aside.
        var keyed = await new Verifier(_temp.Store, new VerifyOptions { RecordState = false, Keys = new KeyRing([_key]) }).VerifySnapshotAsync(snap);
        Assert.Equal(VerifyOutcome.Failed, keyed.Snapshots[0].Outcome);
        Assert.Equal(1, keyed.Snapshots[0].CorruptChunks);
        Assert.Single(keyed.RenamedChunks);
    }

    [Fact]
    public async Task VerifyWithAWrongKeyRenamesNothing()
    {
        var snap = await WriteAsync("host/w", 1_750_000_000, new BackupOptions { Key = _key }, Pseudo(300_000, 9), Pseudo(10_000, 10));
        var report = await new Verifier(_temp.Store, new VerifyOptions { RecordState = false, Keys = new KeyRing([_other]) }).VerifySnapshotAsync(snap);
        Assert.Equal(VerifyOutcome.Ok, report.Snapshots[0].Outcome);
        Assert.Empty(report.RenamedChunks);
        Assert.Contains(report.Snapshots[0].Notes, n => n.Contains("not given"));
    }

    [Fact]
    public async Task GcAndPruneWorkUnchangedOnEncryptedChunks()
    {
        var first = await WriteAsync("host/g", 1_750_000_000, new BackupOptions { Key = _key }, Pseudo(400_000, 11), Pseudo(10_000, 12));
        var second = await WriteAsync("host/g", 1_750_000_100, new BackupOptions { Key = _key }, Pseudo(400_000, 13), Pseudo(10_000, 14));
        var before = Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).Count();
        await new GarbageCollector(_temp.Store, new GcOptions { AtimeCutoff = TimeSpan.Zero }).RunAsync();
        Assert.Equal(before, Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).Count());

        await SnapshotRemover.RemoveAsync(_temp.Store, first, CancellationToken.None);
        // The first GC marked every chunk (atime = now, whole seconds); age them so the next GC's
        // cutoff (its own start) separates the marked from the unmarked within the same second.
        foreach (var chunk in Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories))
            File.SetLastAccessTimeUtc(chunk, DateTime.UtcNow.AddHours(-1));
        await new GarbageCollector(_temp.Store, new GcOptions { AtimeCutoff = TimeSpan.Zero }).RunAsync();
        Assert.True(Directory.EnumerateFiles(ChunkDir, "*", SearchOption.AllDirectories).Count() < before);
        var report = await new Verifier(_temp.Store, new VerifyOptions { RecordState = false, Keys = new KeyRing([_key]) }).VerifySnapshotAsync(second);
        Assert.Equal(VerifyOutcome.Ok, report.Snapshots[0].Outcome);
    }

    [Theory]
    [InlineData("same-key", true)]
    [InlineData("other-key", false)]
    [InlineData("plain-then-encrypted", false)]
    public async Task SplitCommitsReusePayloadOnlyWithTheSameModeAndKey(string scenario, bool reuse)
    {
        var tree = _temp.Dir.Sub("tree");
        Directory.CreateDirectory(tree);
        for (int i = 0; i < 5; i++) File.WriteAllBytes(Path.Combine(tree, $"f{i}.bin"), Pseudo(200_000, 20 + i));
        var group = BackupGroup.Parse("host/split");
        var firstOptions = scenario switch
        {
            "same-key" => new BackupOptions { Key = _key },
            "other-key" => new BackupOptions { Key = _other },
            _ => new BackupOptions(),
        };
        using var chunks = new CachedChunkSource(new DecodingChunkSource(_temp.Store.Chunks));
        await SplitSnapshotCommit.CommitAsync(_temp.Store, group, new LocalTreeSource(tree), chunks, firstOptions with { BackupTime = 1_750_000_000 });
        File.WriteAllBytes(Path.Combine(tree, "new.bin"), Pseudo(1000, 99));
        var second = await SplitSnapshotCommit.CommitAsync(_temp.Store, group, new LocalTreeSource(tree), chunks, new BackupOptions { Key = _key, BackupTime = 1_750_000_100 });
        Assert.Equal(reuse, second.Split.ReusedFiles > 0);

        var reader = SnapshotReader.Open(_temp.Store, second.Snapshot, chunks, new KeyRing([_key]), new ChunkSourceSet(_temp.Store.Chunks, chunks, 16 << 20));
        var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, "root.pxar");
        PxarListing.AssertEqual(PxarListing.FromDirectory(tree), await PxarListing.FromArchiveAsync(accessor));
        // Every chunk the new snapshot names is encrypted under its key (the independent reader checks the keyed digests).
        var independent = new IndependentDecryptor(CryptoVectorTests.K1);
        independent.ReadArchive(Path.Combine(_temp.Store.FullPath(second.Snapshot.RelativePath), "root.ppxar.didx"), ChunkDir);
    }

    [Fact]
    public void IndependentReaderAgreesWithTheVectorStore()
    {
        var independent = new IndependentDecryptor(CryptoVectorTests.K1);
        var snap = CryptoVectorTests.Enc("store/host/enc/2025-12-01T10:00:00Z");
        Assert.Equal(File.ReadAllBytes(Path.Combine(TestPaths.Vectors, "pxar", "A.pxar")),
            independent.ReadArchive(Path.Combine(snap, "root.pxar.didx"), CryptoVectorTests.Enc("store/.chunks")));
    }
}
