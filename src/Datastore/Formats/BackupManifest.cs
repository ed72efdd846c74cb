using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BackupFs.Datastore.Formats;

/// <summary>
/// A snapshot's manifest (index.json.blob): which files the snapshot has, with size and checksum,
/// plus an "unprotected" object (notes, verify state, upload statistics, key fingerprint) that the
/// optional signature does not cover. Stored as a zstd-compressed, never encrypted DataBlob.
/// </summary>
public sealed class BackupManifest
{
    public const string BlobName = "index.json.blob";
    private static readonly string[] BackupTypes = ["vm", "ct", "host"];

    public BackupManifest() : this("host", "", 0) { }

    public BackupManifest(string backupType, string backupId, long backupTime)
    {
        BackupType = backupType;
        BackupId = backupId;
        BackupTime = backupTime;
    }

    /// <summary>"vm", "ct" or "host".</summary>
    public string BackupType { get; set; }
    public string BackupId { get; set; }
    /// <summary>Snapshot time, Unix epoch seconds.</summary>
    public long BackupTime { get; set; }
    /// <summary>In the order the files were added (PBS keeps upload order).</summary>
    public List<ManifestFileInfo> Files { get; } = [];
    /// <summary>Not covered by the signature; written as {} when empty.</summary>
    public JsonObject Unprotected
    {
        get => _unprotected;
        set => _unprotected = value ?? new JsonObject();
    }
    private JsonObject _unprotected = new();
    /// <summary>Lower-case hex HMAC-SHA256, or null (written as "signature": null) when unsigned.</summary>
    public string? Signature { get; set; }

    public ManifestFileInfo? Find(string filename) => Files.Find(f => f.Filename == filename);

    /// <summary>Parses manifest JSON (any key order, any whitespace).</summary>
    /// <exception cref="FormatCorruptException">malformed JSON, a missing or mistyped key, a bad crypt-mode, csum or file name</exception>
    public static BackupManifest Parse(ReadOnlySpan<byte> utf8Json)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(utf8Json);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new FormatCorruptException($"manifest is not valid JSON: {e.Message}", e);
        }
        try
        {
            return FromJson(root as JsonObject ?? throw Corrupt("is not a JSON object"));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or JsonException)
        {
            // JsonNode reports odd content (e.g. duplicate keys, lone surrogates) lazily.
            throw new FormatCorruptException($"manifest is malformed: {e.Message}", e);
        }
    }

    /// <summary>Decodes the manifest DataBlob, then parses it.</summary>
    /// <exception cref="FormatCorruptException">bad blob or bad manifest JSON</exception>
    /// <exception cref="EncryptedDataException">the blob is encrypted (PBS never writes that)</exception>
    public static BackupManifest FromBlob(ReadOnlySpan<byte> blob) => Parse(DataBlob.Decode(blob));

    /// <summary>The JSON as PBS writes it: serde_json pretty (2-space indent), keys sorted byte-wise at every level, no final newline.</summary>
    public byte[] ToJson() => SerdeJsonWriter.Pretty(ToJsonTree(includeUnsigned: true));

    /// <summary>The manifest blob as PBS stores it: a zstd-compressed DataBlob of <see cref="ToJson"/>.</summary>
    public byte[] ToBlob() => DataBlob.Encode(ToJson(), compress: true);

    /// <summary>
    /// The bytes PBS signs: the manifest without "unprotected" and "signature", keys sorted,
    /// no whitespace, serde_json string escaping.
    /// </summary>
    public byte[] CanonicalJsonForSignature() => SerdeJsonWriter.Canonical(ToJsonTree(includeUnsigned: false));

    /// <summary>Lower-case hex HMAC-SHA256 of <see cref="CanonicalJsonForSignature"/> with the key's id_key.</summary>
    public string ComputeSignature(ReadOnlySpan<byte> idKey) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(idKey, CanonicalJsonForSignature()));

    private JsonObject ToJsonTree(bool includeUnsigned)
    {
        if (Array.IndexOf(BackupTypes, BackupType) < 0)
            throw new InvalidNameException($"backup type '{BackupType}' is not one of vm, ct, host");
        var files = new JsonArray();
        foreach (var file in Files)
        {
            if (file.Csum is not { Length: 32 })
                throw new ArgumentException($"manifest file '{file.Filename}' needs a 32-byte csum");
            files.Add((JsonNode)new JsonObject
            {
                ["filename"] = file.Filename,
                ["crypt-mode"] = file.CryptMode.ToJsonName(),
                ["size"] = file.Size,
                ["csum"] = file.CsumHex,
            });
        }
        var tree = new JsonObject
        {
            ["backup-type"] = BackupType,
            ["backup-id"] = BackupId,
            ["backup-time"] = BackupTime,
            ["files"] = files,
        };
        if (includeUnsigned)
        {
            tree["unprotected"] = Unprotected.DeepClone();
            tree["signature"] = Signature;
        }
        return tree;
    }

    private static BackupManifest FromJson(JsonObject json)
    {
        var manifest = new BackupManifest(
            RequiredString(json, "backup-type", "manifest"),
            RequiredString(json, "backup-id", "manifest"),
            RequiredInteger(json, "backup-time"));
        if (Array.IndexOf(BackupTypes, manifest.BackupType) < 0)
            throw Corrupt($"has backup-type '{manifest.BackupType}', expected vm, ct or host");

        if (json["files"] is not JsonArray files)
            throw Corrupt("has no \"files\" array");
        for (int i = 0; i < files.Count; i++)
            manifest.Files.Add(ParseFile(files[i] as JsonObject ?? throw Corrupt($"files[{i}] is not an object"), i));

        // Backups made before PBS 0.8 have no "unprotected" key.
        if (json.TryGetPropertyValue("unprotected", out var unprotected) && unprotected is not null)
        {
            var members = unprotected as JsonObject ?? throw Corrupt("has an \"unprotected\" value that is not an object");
            json.Remove("unprotected"); // detach, so callers may move it into other JSON trees
            manifest.Unprotected = members;
        }

        if (json.TryGetPropertyValue("signature", out var signature) && signature is not null)
            manifest.Signature = signature is JsonValue v && v.GetValueKind() == JsonValueKind.String
                ? v.GetValue<string>()
                : throw Corrupt("has a \"signature\" that is neither a string nor null");
        return manifest;
    }

    private static ManifestFileInfo ParseFile(JsonObject file, int index)
    {
        string where = $"files[{index}]";
        string name = RequiredString(file, "filename", where);
        if (name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Contains('\0'))
            throw Corrupt($"{where} has an unusable file name '{name}'");

        var mode = CryptMode.None; // absent in backups made before PBS 0.8
        if (file.ContainsKey("crypt-mode"))
        {
            string text = RequiredString(file, "crypt-mode", where);
            if (!CryptModeNames.TryParse(text, out mode))
                throw Corrupt($"{where} ('{name}') has crypt-mode '{text}', expected none, encrypt or sign-only");
        }

        if (file["size"] is not JsonValue sizeValue || sizeValue.GetValueKind() != JsonValueKind.Number
            || !ulong.TryParse(sizeValue.ToJsonString(), System.Globalization.NumberStyles.None, null, out ulong size))
            throw Corrupt($"{where} ('{name}') has no unsigned integer \"size\"");

        string csumHex = RequiredString(file, "csum", where);
        var csum = new byte[32];
        if (csumHex.Length != 64 || Convert.FromHexString(csumHex, csum, out _, out _) != System.Buffers.OperationStatus.Done)
            throw Corrupt($"{where} ('{name}') has csum '{csumHex}', expected 64 hex digits");
        return new ManifestFileInfo(name, mode, size, csum);
    }

    private static string RequiredString(JsonObject obj, string key, string where) =>
        obj[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw Corrupt($"{(where == "manifest" ? "" : where + " ")}has no string \"{key}\"");

    private static long RequiredInteger(JsonObject obj, string key) =>
        obj[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number
        && long.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.AllowLeadingSign, null, out long n)
            ? n
            : throw Corrupt($"has no integer \"{key}\"");

    private static FormatCorruptException Corrupt(string what) => new($"manifest {what}");
}
