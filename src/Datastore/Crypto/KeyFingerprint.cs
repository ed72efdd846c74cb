using System.Security.Cryptography;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// A key's fingerprint: SHA-256(FingerprintInput ‖ id_key), where FingerprintInput is SHA-256 of
/// the ASCII text "Proxmox Backup Encryption Key Fingerprint". Written in full (32 bytes,
/// colon-separated lower-case hex) in key files and manifests, and shortened to the first 8 bytes
/// in messages, as PBS does (pbs-tools crypt_config.rs, proxmox pbs-api-types crypto.rs).
/// </summary>
public readonly struct KeyFingerprint : IEquatable<KeyFingerprint>
{
    private static readonly byte[] FingerprintInput = SHA256.HashData("Proxmox Backup Encryption Key Fingerprint"u8);
    private readonly byte[] _bytes;

    private KeyFingerprint(byte[] bytes) => _bytes = bytes;

    public ReadOnlySpan<byte> Bytes => _bytes;

    public static KeyFingerprint FromIdKey(ReadOnlySpan<byte> idKey)
    {
        Span<byte> input = stackalloc byte[64];
        FingerprintInput.CopyTo(input);
        idKey.CopyTo(input[32..]);
        return new KeyFingerprint(SHA256.HashData(input));
    }

    /// <summary>All 32 bytes, "0e:ab:…" (95 characters): key files, manifests, `key show`.</summary>
    public string Full => Format(_bytes);

    /// <summary>The first 8 bytes, "0e:ab:d4:46:0b:6e:b9:ca": log lines and error messages.</summary>
    public string Short => Format(_bytes.AsSpan(0, 8));

    public override string ToString() => Short;

    /// <summary>Every ':' is ignored; then exactly 64 hex digits are needed (PBS's parser).</summary>
    public static bool TryParse(string? text, out KeyFingerprint fingerprint)
    {
        fingerprint = default;
        if (text is null) return false;
        var hex = text.Replace(":", "");
        if (hex.Length != 64) return false;
        var bytes = new byte[32];
        if (Convert.FromHexString(hex, bytes, out _, out _) != System.Buffers.OperationStatus.Done) return false;
        fingerprint = new KeyFingerprint(bytes);
        return true;
    }

    private static string Format(ReadOnlySpan<byte> bytes) => string.Join(':', bytes.ToArray().Select(b => b.ToString("x2")));

    public bool Equals(KeyFingerprint other) => _bytes is not null && other._bytes is not null && _bytes.AsSpan().SequenceEqual(other._bytes);
    public override bool Equals(object? obj) => obj is KeyFingerprint f && Equals(f);
    public override int GetHashCode() => _bytes is null ? 0 : BitConverter.ToInt32(_bytes, 0);
    public static bool operator ==(KeyFingerprint a, KeyFingerprint b) => a.Equals(b);
    public static bool operator !=(KeyFingerprint a, KeyFingerprint b) => !a.Equals(b);
}
