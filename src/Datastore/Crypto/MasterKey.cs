using System.Security.Cryptography;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// Key escrow with an RSA master key (pbs-key-config rsa_encrypt_key_config): the snapshot's key
/// as a kdf-null key file (created = the key file's, modified = now), RSA PKCS#1 v1.5 encrypted
/// with the master public key, stored as the uncompressed, unencrypted rsa-encrypted.key.blob.
/// </summary>
public static class MasterKey
{
    public const string BlobName = "rsa-encrypted.key.blob";

    /// <summary>The blob file contents for <paramref name="key"/> under the PEM public key.</summary>
    /// <exception cref="CryptoException">not an RSA public key PEM</exception>
    public static byte[] CreateBlob(string publicKeyPem, CryptKey key, string? created)
    {
        using var rsa = RSA.Create();
        try { rsa.ImportFromPem(publicKeyPem); }
        catch (ArgumentException e) { throw new CryptoException($"master public key is not an RSA public key PEM: {e.Message}", e); }
        var json = KeyFile.Create(key, kdf: null, passphrase: default, created: created).ToJson();
        byte[] encrypted;
        try { encrypted = rsa.Encrypt(json, RSAEncryptionPadding.Pkcs1); }
        finally { CryptographicOperations.ZeroMemory(json); }
        return DataBlob.Encode(encrypted, compress: false);
    }

    /// <summary>Recovers the key from the blob with the (encrypted PKCS#8) private key PEM.</summary>
    /// <exception cref="CryptoException">wrong passphrase, wrong master key, or not a key config</exception>
    public static CryptKey OpenBlob(byte[] blobFile, string privateKeyPem, string passphrase)
    {
        using var rsa = RSA.Create();
        try { rsa.ImportFromEncryptedPem(privateKeyPem, passphrase); }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new CryptoException($"cannot open the master private key (wrong passphrase?): {e.Message}", e);
        }
        byte[] json;
        try { json = rsa.Decrypt(DataBlob.Decode(blobFile), RSAEncryptionPadding.Pkcs1); }
        catch (CryptographicException e) { throw new CryptoException($"cannot decrypt {BlobName} with this master key: {e.Message}", e); }
        try { return KeyFile.Parse(json, BlobName).Open(default); }
        finally { CryptographicOperations.ZeroMemory(json); }
    }
}
