using System.Security.Cryptography;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// An opened encryption key (PBS's CryptConfig): the 32-byte AES key, the id_key derived from it
/// (PBKDF2-HMAC-SHA256 over the key, salt "_id_key", 10 rounds), which names encrypted chunks
/// (SHA-256(plain ‖ id_key)) and signs manifests (HMAC-SHA256), and the key's fingerprint.
/// The raw key is never printed; <see cref="ToString"/> shows the short fingerprint.
/// </summary>
public sealed class CryptKey
{
    public const int KeySize = 32;
    private readonly byte[] _encKey;
    private readonly byte[] _idKey;

    public KeyFingerprint Fingerprint { get; }

    public CryptKey(ReadOnlySpan<byte> rawKey)
    {
        if (rawKey.Length != KeySize) throw new CryptoException($"an encryption key has {KeySize} bytes, not {rawKey.Length}");
        _encKey = rawKey.ToArray();
        _idKey = Rfc2898DeriveBytes.Pbkdf2(_encKey, "_id_key"u8, 10, HashAlgorithmName.SHA256, 32);
        Fingerprint = KeyFingerprint.FromIdKey(_idKey);
    }

    /// <summary>A new random key (as `key create` makes one).</summary>
    public static CryptKey Generate() => new(RandomNumberGenerator.GetBytes(KeySize));

    internal ReadOnlySpan<byte> EncryptionKey => _encKey;
    internal ReadOnlySpan<byte> IdKey => _idKey;

    /// <summary>The raw key, for writing key files and the master-key blob only.</summary>
    internal byte[] ExportRawKey() => (byte[])_encKey.Clone();

    /// <summary>The name of an encrypted chunk: SHA-256(plain ‖ id_key).</summary>
    public Digest ComputeDigest(ReadOnlySpan<byte> plain)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(plain);
        sha.AppendData(_idKey);
        Span<byte> hash = stackalloc byte[32];
        sha.GetHashAndReset(hash);
        return Digest.FromBytes(hash);
    }

    /// <summary>HMAC-SHA256 with the id_key (manifest signatures).</summary>
    public byte[] ComputeAuthTag(ReadOnlySpan<byte> data) => HMACSHA256.HashData(_idKey, data);

    public override string ToString() => $"key {Fingerprint.Short}";
}
