using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Tests.TestSupport;

namespace BackupFs.Datastore.Tests.Formats;

public class ManifestTests
{
    private static readonly string Csum1 = string.Concat(Enumerable.Repeat("01", 32));
    private static readonly string Csum2 = string.Concat(Enumerable.Repeat("02", 32));

    /// <summary>The manifest of PBS's manifest.rs test_manifest_signature.</summary>
    private static BackupManifest SignatureVectorManifest()
    {
        var manifest = new BackupManifest("host", "elsa", 1593179765); // 2020-06-26T13:56:05Z
        manifest.Files.Add(new("test1.img.fidx", CryptMode.Encrypt, 200, Convert.FromHexString(Csum1)));
        manifest.Files.Add(new("abc.blob", CryptMode.None, 200, Convert.FromHexString(Csum2)));
        return manifest;
    }

    private static string Text(byte[] utf8) => Encoding.UTF8.GetString(utf8);
    private static BackupManifest ParseText(string json) => BackupManifest.Parse(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void PrettyOutputIsSerdeJsonStyle()
    {
        string expected =
            "{\n" +
            "  \"backup-id\": \"elsa\",\n" +
            "  \"backup-time\": 1593179765,\n" +
            "  \"backup-type\": \"host\",\n" +
            "  \"files\": [\n" +
            "    {\n" +
            "      \"crypt-mode\": \"encrypt\",\n" +
            $"      \"csum\": \"{Csum1}\",\n" +
            "      \"filename\": \"test1.img.fidx\",\n" +
            "      \"size\": 200\n" +
            "    },\n" +
            "    {\n" +
            "      \"crypt-mode\": \"none\",\n" +
            $"      \"csum\": \"{Csum2}\",\n" +
            "      \"filename\": \"abc.blob\",\n" +
            "      \"size\": 200\n" +
            "    }\n" +
            "  ],\n" +
            "  \"signature\": null,\n" +
            "  \"unprotected\": {}\n" +
            "}";
        Assert.Equal(expected, Text(SignatureVectorManifest().ToJson()));
    }

    [Fact]
    public void UnprotectedIsSortedAtEveryLevelAndSignatureWritten()
    {
        var manifest = new BackupManifest("ct", "101", 5);
        manifest.Unprotected["verify_state"] = new JsonObject { ["upid"] = "UPID:x", ["state"] = "ok" };
        manifest.Unprotected["chunk_upload_stats"] = new JsonObject { ["size"] = 10, ["count"] = 2, ["duplicates"] = 0, ["compressed_size"] = 7 };
        manifest.Unprotected["empty"] = new JsonArray();
        manifest.Signature = new string('a', 64);
        string expected =
            "{\n" +
            "  \"backup-id\": \"101\",\n" +
            "  \"backup-time\": 5,\n" +
            "  \"backup-type\": \"ct\",\n" +
            "  \"files\": [],\n" +
            $"  \"signature\": \"{new string('a', 64)}\",\n" +
            "  \"unprotected\": {\n" +
            "    \"chunk_upload_stats\": {\n" +
            "      \"compressed_size\": 7,\n" +
            "      \"count\": 2,\n" +
            "      \"duplicates\": 0,\n" +
            "      \"size\": 10\n" +
            "    },\n" +
            "    \"empty\": [],\n" +
            "    \"verify_state\": {\n" +
            "      \"state\": \"ok\",\n" +
            "      \"upid\": \"UPID:x\"\n" +
            "    }\n" +
            "  }\n" +
            "}";
        Assert.Equal(expected, Text(manifest.ToJson()));
    }

    [Fact]
    public void StringsAreEscapedLikeSerdeJson()
    {
        var manifest = new BackupManifest("host", "a/b\"c\\d", 1);
        manifest.Unprotected["notes"] = "line1\nline2\t\b\f\r\u0001\u001f\u007f é € 😀 </script>";
        string json = Text(manifest.ToJson());
        Assert.Contains("\"backup-id\": \"a/b\\\"c\\\\d\"", json);
        Assert.Contains("\"notes\": \"line1\\nline2\\t\\b\\f\\r\\u0001\\u001f\u007f é € 😀 </script>\"", json);
        Assert.Equal(manifest.Unprotected["notes"]!.GetValue<string>(), BackupManifest.Parse(manifest.ToJson()).Unprotected["notes"]!.GetValue<string>());
    }

    [Fact]
    public void KeysAreOrderedByUtf8BytesNotUtf16()
    {
        // U+FB01 sorts before U+1F600 in UTF-8 (and code points), after it in UTF-16 code units.
        var manifest = new BackupManifest("host", "x", 1);
        manifest.Unprotected["😀"] = 1;
        manifest.Unprotected["ﬁ"] = 2;
        manifest.Unprotected["Z"] = 3;
        string json = Text(manifest.ToJson());
        Assert.True(json.IndexOf("\"Z\"") < json.IndexOf("\"ﬁ\""));
        Assert.True(json.IndexOf("\"ﬁ\"") < json.IndexOf("\"😀\""));
    }

    [Theory]
    [InlineData("1", "1")]
    [InlineData("-42", "-42")]
    [InlineData("18446744073709551615", "18446744073709551615")]
    [InlineData("1.0", "1.0")]
    [InlineData("0.1", "0.1")]
    [InlineData("1e20", "1e20")]
    [InlineData("1E2", "100.0")]
    [InlineData("1.5e-7", "1.5e-7")]
    [InlineData("0.00012", "0.00012")]
    [InlineData("123.456", "123.456")]
    [InlineData("-2.5", "-2.5")]
    [InlineData("123456789012345678901234", "1.2345678901234569e23")]
    public void NumbersInUnprotectedAreWrittenLikeSerdeJson(string input, string expected)
    {
        var manifest = ParseText($"{{\"backup-type\":\"vm\",\"backup-id\":\"1\",\"backup-time\":1,\"files\":[],\"unprotected\":{{\"n\":{input}}}}}");
        Assert.Contains($"\"n\": {expected}\n", Text(manifest.ToJson()));
    }

    [Fact]
    public void CanonicalJsonMatchesPbsSignatureInput()
    {
        var manifest = SignatureVectorManifest();
        manifest.Unprotected["note"] = "This is not protected by the signature.";
        manifest.Signature = "ff";
        string expected =
            "{\"backup-id\":\"elsa\",\"backup-time\":1593179765,\"backup-type\":\"host\",\"files\":[" +
            $"{{\"crypt-mode\":\"encrypt\",\"csum\":\"{Csum1}\",\"filename\":\"test1.img.fidx\",\"size\":200}}," +
            $"{{\"crypt-mode\":\"none\",\"csum\":\"{Csum2}\",\"filename\":\"abc.blob\",\"size\":200}}]}}";
        Assert.Equal(expected, Text(manifest.CanonicalJsonForSignature()));
    }

    [Fact]
    public void ScryptMatchesRfc7914()
    {
        Assert.Equal("77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
            Convert.ToHexStringLower(Scrypt.DeriveKey([], [], 16, 1, 1, 64)));
        Assert.Equal("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
            Convert.ToHexStringLower(Scrypt.DeriveKey("password"u8.ToArray(), "NaCl"u8.ToArray(), 1024, 8, 16, 64)));
    }

    [Fact]
    public void SignatureMatchesPbsTestVector()
    {
        // manifest.rs test_manifest_signature: key = scrypt("test", empty salt, N=65536, r=8, p=1).
        byte[] key = Scrypt.DeriveKey("test"u8.ToArray(), [], 65536, 8, 1, 32);
        Assert.Equal("28cdb1a3bef39396c3860e00d448fe7a0efd8244486ab6feb30457681d31597e", Convert.ToHexStringLower(key));
        // id_key = PBKDF2-HMAC-SHA256(key, "_id_key", 10 iterations); the signature is HMAC-SHA256 with it.
        byte[] idKey = Rfc2898DeriveBytes.Pbkdf2(key, "_id_key"u8.ToArray(), 10, HashAlgorithmName.SHA256, 32);
        var manifest = SignatureVectorManifest();
        manifest.Unprotected["note"] = "This is not protected by the signature.";
        Assert.Equal("d7b446fb7db081662081d4b40fedd858a1d6307a5aff4ecff7d5bf4fd35679e9", manifest.ComputeSignature(idKey));
        // The key fingerprint PBS stores in unprotected.key-fingerprint.
        byte[] fingerprint = SHA256.HashData([.. SHA256.HashData("Proxmox Backup Encryption Key Fingerprint"u8), .. idKey]);
        Assert.Equal("12:b9:b7:74:bb:3d:89:95:2b:97:cb:c2:82:f0:0c:14:2b:83:ba:7f:96:62:6a:a1:5a:44:9a:63:e8:91:fe:25",
            string.Join(':', fingerprint.Select(b => b.ToString("x2"))));
    }

    [Fact]
    public void RoundTripThroughJsonAndBlob()
    {
        var manifest = SignatureVectorManifest();
        manifest.Files.Add(new("root.pxar.didx", CryptMode.SignOnly, ulong.MaxValue, Convert.FromHexString(Csum1)));
        manifest.Unprotected["notes"] = "hello";
        manifest.Unprotected["nested"] = new JsonObject { ["list"] = new JsonArray(1, "two", true, null) };
        manifest.Signature = new string('0', 64);

        var json = manifest.ToJson();
        var again = BackupManifest.Parse(json);
        Assert.Equal(json, again.ToJson());
        Assert.Equal(("host", "elsa", 1593179765L), (again.BackupType, again.BackupId, again.BackupTime));
        Assert.Equal(3, again.Files.Count);
        Assert.Equal(CryptMode.SignOnly, again.Files[2].CryptMode);
        Assert.Equal(ulong.MaxValue, again.Files[2].Size);
        Assert.Equal(Csum1, again.Files[2].CsumHex);
        Assert.Equal(manifest.Signature, again.Signature);

        var blob = manifest.ToBlob();
        Assert.Equal(BlobKind.Compressed, DataBlob.GetKind(blob));
        Assert.Equal(json, BackupManifest.FromBlob(blob).ToJson());
    }

    [Fact]
    public void OptionalKeysTakeTheirDefaults()
    {
        // Backups made before PBS 0.8: no crypt-mode, no unprotected; unsigned: no signature.
        var manifest = ParseText($"{{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":7,\"files\":[{{\"filename\":\"a.blob\",\"size\":3,\"csum\":\"{Csum1.ToUpperInvariant()}\"}}],\"extra\":1}}");
        Assert.Equal(CryptMode.None, manifest.Files[0].CryptMode);
        Assert.Equal(Csum1, manifest.Files[0].CsumHex); // upper-case hex accepted, written lower-case
        Assert.Empty(manifest.Unprotected);
        Assert.Null(manifest.Signature);
        Assert.EndsWith("  \"signature\": null,\n  \"unprotected\": {}\n}", Text(manifest.ToJson()));
        Assert.Same(manifest.Files[0], manifest.Find("a.blob"));
        Assert.Null(manifest.Find("b.blob"));
    }

    public static TheoryData<string> Malformed => new()
    {
        "",
        "not json",
        "{\"backup-type\":\"host\"",
        "[]",
        "null",
        "{\"backup-id\":\"h\",\"backup-time\":1,\"files\":[]}",
        "{\"backup-type\":\"pc\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[]}",
        "{\"backup-type\":\"host\",\"backup-time\":1,\"files\":[]}",
        "{\"backup-type\":\"host\",\"backup-id\":5,\"backup-time\":1,\"files\":[]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":\"1\",\"files\":[]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1.5,\"files\":[]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":{}}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[1]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"size\":1,\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"../x.blob\",\"size\":1,\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"..\",\"size\":1,\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"crypt-mode\":\"plain\",\"size\":1,\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"crypt-mode\":null,\"size\":1,\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"size\":-1,\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"size\":\"1\",\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"csum\":\"CSUM\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"size\":1,\"csum\":\"0101\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"size\":1,\"csum\":\"" + new string('g', 64) + "\"}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[{\"filename\":\"a.blob\",\"size\":1}]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[],\"unprotected\":[]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[],\"signature\":12}",
        "{\"backup-type\":\"host\",\"backup-type\":\"vm\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[]}",
        "{\"backup-type\":\"host\",\"backup-id\":\"h\",\"backup-time\":1,\"files\":[]} trailing",
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedManifestIsCorrupt(string json)
    {
        json = json.Replace("CSUM", Csum1);
        Assert.Throws<FormatCorruptException>(() => ParseText(json));
    }

    [Fact]
    public void InvalidUtf8IsCorrupt()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"backup-type\":\"host\",\"backup-id\":\"X\",\"backup-time\":1,\"files\":[]}");
        bytes[Array.IndexOf(bytes, (byte)'X')] = 0xff;
        Assert.Throws<FormatCorruptException>(() => BackupManifest.Parse(bytes));
    }

    [Fact]
    public void DamagedBlobIsCorrupt()
    {
        var blob = SignatureVectorManifest().ToBlob();
        blob[^2] ^= 1;
        Assert.Throws<FormatCorruptException>(() => BackupManifest.FromBlob(blob));
        Assert.Throws<FormatCorruptException>(() => BackupManifest.FromBlob(DataBlob.Encode("{\"files\":"u8)));
    }

    [Fact]
    public void ParsedUnprotectedIsADetachedObject()
    {
        var manifest = ParseText("{\"backup-type\":\"vm\",\"backup-id\":\"1\",\"backup-time\":1,\"files\":[],\"unprotected\":{\"notes\":\"n\"}}");
        Assert.Null(manifest.Unprotected.Parent);
        var elsewhere = new JsonObject { ["copy"] = manifest.Unprotected };
        Assert.Same(manifest.Unprotected, elsewhere["copy"]);
        manifest.Unprotected = null!;
        Assert.Empty(manifest.Unprotected);
    }

    [Fact]
    public void WritingAnInvalidBackupTypeFails()
    {
        Assert.Throws<InvalidNameException>(() => new BackupManifest("pc", "x", 1).ToJson());
    }

    public static IEnumerable<object[]> StoreManifests() =>
        Directory.EnumerateFiles(Path.Combine(TestPaths.Vectors, "store"), BackupManifest.BlobName, SearchOption.AllDirectories)
            .Order().Select(p => new object[] { Path.GetRelativePath(Path.Combine(TestPaths.Vectors, "store"), p) });

    [Theory]
    [MemberData(nameof(StoreManifests))]
    public void StoreManifestsParseAndMatchTheirFiles(string relativePath)
    {
        var path = Path.Combine(TestPaths.Vectors, "store", relativePath);
        var snapshotDir = Path.GetDirectoryName(path)!;
        var manifest = BackupManifest.FromBlob(File.ReadAllBytes(path));

        // The snapshot path is <type>/<id>/<time> (below any ns/ dirs).
        var parts = relativePath.Split(Path.DirectorySeparatorChar);
        Assert.Equal(parts[^4], manifest.BackupType);
        Assert.Equal(parts[^3], manifest.BackupId);
        Assert.Equal(parts[^2], DateTimeOffset.FromUnixTimeSeconds(manifest.BackupTime).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"));
        Assert.Null(manifest.Signature);
        Assert.NotEmpty(manifest.Files);

        foreach (var file in manifest.Files)
        {
            var filePath = Path.Combine(snapshotDir, file.Filename);
            Assert.Equal(CryptMode.None, file.CryptMode);
            if (file.Filename.EndsWith(".blob"))
            {
                var bytes = File.ReadAllBytes(filePath);
                Assert.Equal((ulong)bytes.Length, file.Size);
                Assert.Equal(SHA256.HashData(bytes), file.Csum);
                DataBlob.Decode(bytes);
            }
            else
            {
                IChunkIndex index = file.Filename.EndsWith(".fidx") ? FixedIndex.Load(filePath) : DynamicIndex.Load(filePath);
                Assert.Equal(file.Size, (ulong)index.Size);
                Assert.Equal(index.Checksum.ToArray(), file.Csum);
            }
        }

        // Re-written the PBS way, it still says the same.
        var rewritten = BackupManifest.Parse(manifest.ToJson());
        Assert.Equal(manifest.CanonicalJsonForSignature(), rewritten.CanonicalJsonForSignature());
    }
}
