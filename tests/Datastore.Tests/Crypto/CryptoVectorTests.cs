using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Crypto;

/// <summary>The encryption vectors (tests/vectors/encrypted): key files, blobs, fingerprints, signatures.</summary>
public class CryptoVectorTests
{
    internal static string Enc(string name) => Path.Combine(TestPaths.Vectors, "encrypted", name);
    internal static byte[] Passphrase => Encoding.UTF8.GetBytes(File.ReadAllLines(Enc("passphrase.txt"))[0]);
    internal static byte[] K1 => SHA256.HashData("pbs encryption vectors: public key 1"u8);
    internal static byte[] K2 => SHA256.HashData("pbs encryption vectors: public key 2"u8);
    internal const string K1Fingerprint = "5c:a4:87:6e:e3:3c:a2:50:19:b2:20:66:3f:ff:57:8b:0e:4d:f5:c1:d4:aa:bf:38:c7:95:28:97:d9:ad:89:de";
    internal const string K2Fingerprint = "03:9e:a3:a0:56:f4:f8:a1:38:b7:13:34:68:13:9e:52:ef:08:e1:07:12:3c:16:0a:a4:49:6f:fc:41:c9:90:8f";

    private static CryptKey Key09 => KeyFile.Load(Enc("blobs/key-09.json")).Open(default);
    private static JsonObject BlobVectors => (JsonObject)JsonNode.Parse(File.ReadAllBytes(Enc("blobs/vectors.json")))!;

    [Fact]
    public void UpstreamFingerprintVectors()
    {
        var k = new CryptKey(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        Assert.Equal("0e:ab:d4:46:0b:6e:b9:ca:34:50:23:de:e2:b7:78:c7:90:e5:4a:16:83:b9:65:9c:0a:57:ae:19:90:90:15:9b", k.Fingerprint.Full);
        Assert.Equal("0e:ab:d4:46:0b:6e:b9:ca", k.Fingerprint.Short);
        var k9 = new CryptKey(Enumerable.Repeat((byte)9, 32).ToArray());
        Assert.Equal("d8574fc7e9bcffc3127c21c78bebf73504a3be683e4dba652865f23435609353", Convert.ToHexStringLower(k9.IdKey));
        Assert.Equal("1a:c8:2c:72:fb:bb:62:06:ec:15:89:77:f8:f9:e8:74:3f:be:4f:78:3f:31:4f:45:c8:2f:a0:87:f9:b5:cd:8a", k9.Fingerprint.Full);
        Assert.Equal("5deba33f00ff0935e34bd1c65545a31d7eb8f5b17bc8c97c09384c9d9ee78409", k9.ComputeDigest(new byte[4 << 20]).ToHex());
    }

    [Fact]
    public void Key09MatchesVectorsJson()
    {
        var v = BlobVectors;
        var k = Key09;
        Assert.Equal(v["key"]!["id-key"]!.GetValue<string>(), Convert.ToHexStringLower(k.IdKey));
        Assert.Equal(v["key"]!["fingerprint"]!.GetValue<string>(), k.Fingerprint.Full);
        var pattern = File.ReadAllBytes(Enc("blobs/pattern50.bin"));
        Assert.Equal(v["pattern50.bin"]!["chunk-digest-encrypted"]!.GetValue<string>(), k.ComputeDigest(pattern).ToHex());
        Assert.Equal(v["pattern50.bin"]!["hmac-sha256-id-key"]!.GetValue<string>(), Convert.ToHexStringLower(k.ComputeAuthTag(pattern)));
        Assert.Equal(v["text1880.bin"]!["chunk-digest-encrypted"]!.GetValue<string>(), k.ComputeDigest(File.ReadAllBytes(Enc("blobs/text1880.bin"))).ToHex());
    }

    [Theory]
    [InlineData("pattern50.enc.blob", "pattern50.bin")]
    [InlineData("text1880.enc-zstd.blob", "text1880.bin")]
    [InlineData("empty.enc.blob", null)]
    public void VectorBlobsDecodeToTheirPlaintext(string blob, string? plain)
    {
        var expected = plain is null ? [] : File.ReadAllBytes(Enc("blobs/" + plain));
        Assert.Equal(expected, EncryptedBlob.Decode(Key09, File.ReadAllBytes(Enc("blobs/" + blob))));
    }

    [Fact]
    public void UncompressedVectorIsByteIdenticalToWhatWeEncryptWithItsIv()
    {
        var raw = File.ReadAllBytes(Enc("blobs/pattern50.enc.blob"));
        var plain = File.ReadAllBytes(Enc("blobs/pattern50.bin"));
        var mine = new byte[44 + plain.Length];
        mine[..12].AsSpan().Clear();
        // Same IV as the vector: encrypt with the primitive and lay out the header by hand.
        AesGcmCipher.Encrypt(Key09.EncryptionKey, raw.AsSpan(12, 16), plain, mine.AsSpan(44), mine.AsSpan(28, 16));
        Assert.Equal(raw.AsSpan(28).ToArray(), mine.AsSpan(28).ToArray());
    }

    [Theory]
    [InlineData("tampered-ciphertext.enc.blob")]
    [InlineData("tampered-tag.enc.blob")]
    public void TamperedBlobsFailTheTagCheck(string blob)
    {
        var e = Assert.Throws<CryptoException>(() => EncryptedBlob.Decode(Key09, File.ReadAllBytes(Enc("blobs/" + blob))));
        Assert.Contains("authentication failed", e.Message);
    }

    [Fact]
    public void BadCrcIsAFormatError()
    {
        var e = Assert.Throws<FormatCorruptException>(() => EncryptedBlob.Decode(Key09, File.ReadAllBytes(Enc("blobs/bad-crc.enc.blob"))));
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void WrongKeyFailsTheTagCheck()
    {
        var wrong = new CryptKey(K1);
        Assert.Throws<CryptoException>(() => EncryptedBlob.Decode(wrong, File.ReadAllBytes(Enc("blobs/pattern50.enc.blob"))));
        Assert.Throws<CryptoException>(() => EncryptedBlob.Decode(wrong, File.ReadAllBytes(Enc("blobs/text1880.enc-zstd.blob"))));
    }

    [Fact]
    public void PlainDecoderRefusesEncryptedBlobs() =>
        Assert.Throws<EncryptedDataException>(() => DataBlob.Decode(File.ReadAllBytes(Enc("blobs/pattern50.enc.blob"))));

    [Theory]
    [InlineData("key-scrypt.json")]
    [InlineData("key-pbkdf2.json")]
    public void PassphraseKeyFilesOpenToK1(string file)
    {
        var key = KeyFile.Load(Enc(file)).Open(Passphrase);
        Assert.Equal(K1, key.ExportRawKey());
        Assert.Equal(K1Fingerprint, key.Fingerprint.Full);
    }

    [Fact]
    public void KdfNoneKeyFileOpensToK2()
    {
        var file = KeyFile.Load(Enc("key-none.json"));
        Assert.False(file.NeedsPassphrase);
        var key = file.Open(default);
        Assert.Equal(K2, key.ExportRawKey());
        Assert.Equal(K2Fingerprint, key.Fingerprint.Full);
        Assert.Equal("03:9e:a3:a0:56:f4:f8:a1", key.Fingerprint.Short);
    }

    [Theory]
    [InlineData("key-scrypt.json")]
    [InlineData("key-pbkdf2.json")]
    public void WrongPassphraseFailsCleanly(string file)
    {
        var e = Assert.Throws<CryptoException>(() => KeyFile.Load(Enc(file)).Open("wrong passphrase"u8));
        Assert.StartsWith("Unable to decrypt key (wrong password?)", e.Message);
        Assert.Equal("Passphrase is too short!", Assert.Throws<CryptoException>(() => KeyFile.Load(Enc(file)).Open("abcd"u8)).Message);
    }

    [Fact]
    public void StoredFingerprintMismatchIsReported()
    {
        var json = File.ReadAllText(Enc("key-none.json")).Replace(K2Fingerprint, K1Fingerprint);
        var e = Assert.Throws<CryptoException>(() => KeyFile.Parse(Encoding.UTF8.GetBytes(json)).Open(default));
        Assert.Equal("KeyConfig contains wrong fingerprint 5c:a4:87:6e:e3:3c:a2:50, contained key has fingerprint 03:9e:a3:a0:56:f4:f8:a1", e.Message);
    }

    [Fact]
    public void KdfNoneFileIsRewrittenByteForByte()
    {
        var original = File.ReadAllBytes(Enc("key-none.json"));
        var file = KeyFile.Parse(original);
        var copy = KeyFile.Create(file.Open(default), null, default, file.Created);
        var json = JsonNode.Parse(copy.ToJson())!.AsObject();
        json["modified"] = file.Modified;
        Assert.Equal(Encoding.UTF8.GetString(original).TrimEnd(), json.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }

    [Theory]
    [InlineData("scrypt")]
    [InlineData("pbkdf2")]
    [InlineData("none")]
    public void CreatedKeyFilesRoundTripAndArePrivate(string kdf)
    {
        using var dir = new TempDir();
        var key = CryptKey.Generate();
        var path = dir.Sub("key.json");
        KeyFile.Create(key, KeyDerivation.ForName(kdf), "secret passphrase"u8).Save(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var loaded = KeyFile.Load(path);
        Assert.Equal(kdf != "none", loaded.NeedsPassphrase);
        Assert.Equal(key.Fingerprint, loaded.Open("secret passphrase"u8).Fingerprint);
        Assert.Contains(kdf switch { "scrypt" => "{\"kdf\":{\"Scrypt\":{\"n\":65536,\"r\":8,\"p\":1,\"salt\":", "pbkdf2" => "{\"kdf\":{\"PBKDF2\":{\"iter\":65535,\"salt\":", _ => "{\"kdf\":null," },
            File.ReadAllText(path));
        Assert.Matches("\"created\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d\\d:\\d\\d\"", File.ReadAllText(path));
        // O_EXCL: an existing file is never overwritten by create.
        Assert.Throws<CryptoException>(() => KeyFile.Create(key, null, default).Save(path));
    }

    [Fact]
    public void ChangePassphraseKeepsKeyAndCreated()
    {
        using var dir = new TempDir();
        var path = dir.Sub("key.json");
        File.Copy(Enc("key-pbkdf2.json"), path);
        var old = KeyFile.Load(path);
        var key = old.Open(Passphrase);
        KeyFile.Create(key, KeyDerivation.NewScrypt(), "new passphrase"u8, old.Created).Save(path, replace: true);
        var changed = KeyFile.Load(path);
        Assert.Equal(old.Created, changed.Created);
        Assert.Equal(K1Fingerprint, changed.Open("new passphrase"u8).Fingerprint.Full);
        Assert.Throws<CryptoException>(() => changed.Open(Passphrase));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void EncodeDecodeRoundTripsBothMagics()
    {
        var key = CryptKey.Generate();
        var compressible = new byte[100_000];
        var random = RandomNumberGenerator.GetBytes(100_000);
        var a = EncryptedBlob.Encode(key, compressible);
        var b = EncryptedBlob.Encode(key, random);
        Assert.Equal(BlobKind.EncryptedCompressed, DataBlob.GetKind(a));
        Assert.Equal(BlobKind.Encrypted, DataBlob.GetKind(b));
        Assert.Equal(44 + random.Length, b.Length);
        Assert.Equal(compressible, EncryptedBlob.Decode(key, a));
        Assert.Equal(random, EncryptedBlob.Decode(key, b));
        Assert.True(DataBlob.CrcMatches(a) && DataBlob.CrcMatches(b));
        Assert.NotEqual(a.AsSpan(12, 16).ToArray(), EncryptedBlob.Encode(key, compressible).AsSpan(12, 16).ToArray()); // fresh IV
        Assert.Equal(44, EncryptedBlob.Encode(key, []).Length);
    }

    [Fact]
    public void UpstreamManifestSignatureVector()
    {
        // Key = scrypt("test", empty salt, 65536/8/1) (PBS manifest.rs test_manifest_signature).
        var key = new CryptKey(Convert.FromHexString("28cdb1a3bef39396c3860e00d448fe7a0efd8244486ab6feb30457681d31597e"));
        Assert.Equal("758495a21c31047f543f46d694700e02d168568bab37bb0ceece947b591f5100", Convert.ToHexStringLower(key.IdKey));
        var manifest = new BackupManifest("host", "elsa", 1593179765);
        manifest.Files.Add(new ManifestFileInfo("test1.img.fidx", CryptMode.Encrypt, 200, Enumerable.Repeat((byte)1, 32).ToArray()));
        manifest.Files.Add(new ManifestFileInfo("abc.blob", CryptMode.None, 200, Enumerable.Repeat((byte)2, 32).ToArray()));
        ManifestSignature.Sign(manifest, key);
        Assert.Equal("d7b446fb7db081662081d4b40fedd858a1d6307a5aff4ecff7d5bf4fd35679e9", manifest.Signature);
        var json = manifest.ToJson();
        ManifestSignature.Check(BackupManifest.Parse(json), json, key);
        Assert.Equal(manifest.Signature, ManifestSignature.Compute(key, json));
    }

    [Fact]
    public void VectorManifestsVerifyWithTheirKeys()
    {
        var k1 = new CryptKey(K1);
        var k2 = new CryptKey(K2);
        foreach (var (snapshot, key, other) in new[]
        {
            ("host/enc/2025-12-01T10:00:00Z", k1, k2), ("ns/team/host/enc-split/2025-12-01T11:00:00Z", k2, k1),
            ("vm/200/2025-12-01T12:00:00Z", k1, k2), ("host/signonly/2025-12-01T13:00:00Z", k2, k1),
        })
        {
            var json = DataBlob.Decode(File.ReadAllBytes(Enc($"store/{snapshot}/index.json.blob")));
            var manifest = BackupManifest.Parse(json);
            Assert.Equal(key.Fingerprint, ManifestSignature.FingerprintOf(manifest));
            ManifestSignature.Check(manifest, json, key);
            Assert.StartsWith("wrong key - ", Assert.Throws<CryptoException>(() => ManifestSignature.Check(manifest, json, other)).Message);
            Assert.Same(key, new KeyRing([other, key]).ForManifest(manifest, json));
        }
    }

    [Fact]
    public void ManifestChangedAfterSigningIsRejected()
    {
        var json = DataBlob.Decode(File.ReadAllBytes(Enc("negative/wrong-signature.index.json.blob")));
        var manifest = BackupManifest.Parse(json);
        Assert.Equal("wrong signature in manifest", Assert.Throws<CryptoException>(() => ManifestSignature.Check(manifest, json, new CryptKey(K1))).Message);
        Assert.StartsWith("wrong key - ", Assert.Throws<CryptoException>(() => ManifestSignature.Check(manifest, json, new CryptKey(K2))).Message);
    }

    [Fact]
    public void MasterKeyBlobOpensToK1AndNewBlobsRoundTrip()
    {
        var pem = File.ReadAllText(Enc("master-private.pem"));
        var pass = File.ReadAllLines(Enc("master-passphrase.txt"))[0];
        var blob = File.ReadAllBytes(Enc("store/host/enc/2025-12-01T10:00:00Z/rsa-encrypted.key.blob"));
        Assert.Equal(K1, MasterKey.OpenBlob(blob, pem, pass).ExportRawKey());

        var key = CryptKey.Generate();
        var mine = MasterKey.CreateBlob(File.ReadAllText(Enc("master-public.pem")), key, "2025-01-01T00:00:00+00:00");
        Assert.Equal(BlobKind.Uncompressed, DataBlob.GetKind(mine));
        Assert.Equal(12 + 512, mine.Length);
        Assert.Equal(key.Fingerprint, MasterKey.OpenBlob(mine, pem, pass).Fingerprint);
        Assert.Throws<CryptoException>(() => MasterKey.OpenBlob(mine, pem, "wrong"));
    }
}
