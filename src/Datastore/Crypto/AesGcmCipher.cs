using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// AES-256-GCM as PBS uses it: a 16-byte IV (so the counter block comes from GHASH(IV), which
/// .NET's AesGcm cannot do), a 16-byte tag, no associated data. One BouncyCastle cipher per thread,
/// re-keyed only when the key changes, so a 4 MiB chunk costs only a few small objects (IV copy, parameters).
/// </summary>
public static class AesGcmCipher
{
    public const int IvSize = 16;
    public const int TagSize = 16;

    [ThreadStatic] private static GcmBlockCipher? t_cipher;
    [ThreadStatic] private static byte[]? t_key;

    /// <summary>Encrypts <paramref name="plain"/> into <paramref name="cipherText"/> (same length) and writes the tag.</summary>
    public static void Encrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> plain, Span<byte> cipherText, Span<byte> tag)
    {
        if (cipherText.Length < plain.Length || tag.Length < TagSize) throw new ArgumentException("output too small");
        var gcm = Prepare(key, iv, forEncryption: true);
        int n = gcm.ProcessBytes(plain, cipherText);
        // DoFinal writes the last buffered block and then the tag.
        Span<byte> tail = plain.Length - n + TagSize <= 1024 ? stackalloc byte[plain.Length - n + TagSize] : new byte[plain.Length - n + TagSize];
        int m = gcm.DoFinal(tail);
        tail[..(m - TagSize)].CopyTo(cipherText[n..]);
        tail.Slice(m - TagSize, TagSize).CopyTo(tag);
    }

    /// <summary>
    /// Decrypts and authenticates. On a wrong key or any changed byte the tag check fails, the
    /// output is cleared and a <see cref="CryptoException"/> is thrown: never unauthenticated data.
    /// </summary>
    public static void Decrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> tag, ReadOnlySpan<byte> cipherText, Span<byte> plain)
    {
        if (plain.Length < cipherText.Length) throw new ArgumentException("output too small");
        if (tag.Length != TagSize) throw new CryptoException("GCM tag must have 16 bytes");
        var gcm = Prepare(key, iv, forEncryption: false);
        try
        {
            // BouncyCastle expects ciphertext ‖ tag; PBS stores the tag before the ciphertext.
            int n = gcm.ProcessBytes(cipherText, plain);
            n += gcm.ProcessBytes(tag, plain[n..]);
            gcm.DoFinal(plain[n..]);
        }
        catch (InvalidCipherTextException e)
        {
            plain[..cipherText.Length].Clear();
            t_cipher = null; // a failed cipher is in an undefined state; build a fresh one next time
            throw new CryptoException("authentication failed (wrong key or tampered data)", e);
        }
    }

    private static GcmBlockCipher Prepare(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, bool forEncryption)
    {
        if (key.Length != 32) throw new ArgumentException("AES-256 needs a 32-byte key", nameof(key));
        if (iv.Length != IvSize) throw new ArgumentException("PBS uses 16-byte IVs", nameof(iv));
        var gcm = t_cipher;
        bool sameKey = gcm is not null && t_key is not null && key.SequenceEqual(t_key);
        if (gcm is null)
        {
            gcm = new GcmBlockCipher(AesUtilities.CreateEngine());
            t_cipher = gcm;
        }
        // A null key parameter keeps the expanded key from the previous Init.
        gcm.Init(forEncryption, new AeadParameters(sameKey ? null : new KeyParameter(key), TagSize * 8, iv.ToArray()));
        if (!sameKey) t_key = key.ToArray();
        return gcm;
    }
}
