using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// The manifest signature of sign-only and encrypt snapshots: lower-case hex HMAC-SHA256 (id_key)
/// of the manifest's canonical JSON without "unprotected" and "signature" (pbs-datastore
/// manifest.rs json_signature, proxmox-serde write_canonical_json). The key's full fingerprint
/// goes to unprotected."key-fingerprint". Checking recomputes from the parsed JSON as stored,
/// so fields this program does not model are covered too.
/// </summary>
public static class ManifestSignature
{
    public const string FingerprintKey = "key-fingerprint";

    /// <summary>Signs for writing: sets key-fingerprint and signature (what the client does before upload).</summary>
    public static void Sign(BackupManifest manifest, CryptKey key)
    {
        manifest.Unprotected[FingerprintKey] = key.Fingerprint.Full;
        manifest.Signature = Convert.ToHexStringLower(key.ComputeAuthTag(manifest.CanonicalJsonForSignature()));
    }

    /// <summary>The fingerprint a manifest names (unprotected.key-fingerprint), if any and readable.</summary>
    public static KeyFingerprint? FingerprintOf(BackupManifest manifest) =>
        manifest.Unprotected[FingerprintKey] is JsonValue v && v.GetValueKind() == JsonValueKind.String
        && KeyFingerprint.TryParse(v.GetValue<string>(), out var f) ? f : null;

    /// <summary>Lower-case hex HMAC of the canonical form of <paramref name="manifestJson"/> (raw manifest text).</summary>
    /// <exception cref="FormatCorruptException">not a JSON object, or it contains null</exception>
    public static string Compute(CryptKey key, ReadOnlySpan<byte> manifestJson)
    {
        JsonObject root;
        try { root = JsonNode.Parse(manifestJson) as JsonObject ?? throw new FormatCorruptException("manifest is not a JSON object"); }
        catch (JsonException e) { throw new FormatCorruptException($"manifest is not valid JSON: {e.Message}", e); }
        root.Remove("unprotected");
        root.Remove("signature");
        return Convert.ToHexStringLower(key.ComputeAuthTag(SerdeJsonWriter.Canonical(root)));
    }

    /// <summary>
    /// PBS's order of checks with a key (BackupManifest::check_signature then check_fingerprint):
    /// a named fingerprint must be this key's ("wrong key"), a signature must match ("wrong
    /// signature in manifest"). An unsigned manifest without a fingerprint passes.
    /// </summary>
    /// <exception cref="CryptoException">wrong key or wrong signature</exception>
    public static void Check(BackupManifest manifest, ReadOnlySpan<byte> manifestJson, CryptKey key)
    {
        if (FingerprintOf(manifest) is { } named && named != key.Fingerprint)
            throw new CryptoException(manifest.Signature is null
                ? $"wrong key - manifest's key {named.Short} does not match provided key {key.Fingerprint.Short}"
                : $"wrong key - unable to verify signature since manifest's key {named.Short} does not match provided key {key.Fingerprint.Short}");
        if (manifest.Signature is null) return;
        var expected = Compute(key, manifestJson);
        // PBS compares the hex strings as they are (it writes lower case).
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(manifest.Signature)))
            throw new CryptoException("wrong signature in manifest");
    }

    /// <summary>True when <paramref name="key"/> produced the manifest's signature (finds the key of a manifest without key-fingerprint).</summary>
    public static bool IsSignedBy(BackupManifest manifest, ReadOnlySpan<byte> manifestJson, CryptKey key)
    {
        if (manifest.Signature is null) return false;
        try { return Compute(key, manifestJson) == manifest.Signature; }
        catch (FormatCorruptException) { return false; }
    }
}
