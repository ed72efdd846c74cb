using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Org.BouncyCastle.Crypto.Generators;

namespace BackupFs.Datastore.Crypto;

public enum KdfKind { None, Scrypt, Pbkdf2 }

/// <summary>
/// How a key file turns a passphrase into the 32-byte key that wraps the raw key
/// (pbs-key-config KeyDerivationConfig): scrypt (n 65536, r 8, p 1) or PBKDF2-HMAC-SHA256
/// (65535 rounds), each with a 32-byte random salt. Readers use the parameters stored in the file.
/// </summary>
public sealed record KeyDerivation(KdfKind Kind, byte[] Salt, int N = 0, int R = 0, int P = 0, int Iterations = 0)
{
    /// <summary>PBS's scrypt memory cap (OpenSSL maxmem 1025 MiB); a larger cost is refused, not attempted.</summary>
    private const long MaxScryptMemory = 1025L * 1024 * 1024;
    /// <summary>Bounds the time a hostile key file can cost.</summary>
    private const int MaxPbkdf2Iterations = 10_000_000;

    public static KeyDerivation NewScrypt() => new(KdfKind.Scrypt, RandomNumberGenerator.GetBytes(32), N: 65536, R: 8, P: 1);
    public static KeyDerivation NewPbkdf2() => new(KdfKind.Pbkdf2, RandomNumberGenerator.GetBytes(32), Iterations: 65535);

    /// <summary>"scrypt" (PBS's default), "pbkdf2"; "none" gives null (raw key in the file).</summary>
    public static KeyDerivation? ForName(string name) => name.ToLowerInvariant() switch
    {
        "scrypt" => NewScrypt(),
        "pbkdf2" => NewPbkdf2(),
        "none" => null,
        _ => throw new CryptoException($"unknown kdf '{name}' (scrypt, pbkdf2 or none)"),
    };

    public byte[] DeriveKey(ReadOnlySpan<byte> passphrase)
    {
        switch (Kind)
        {
            case KdfKind.Scrypt:
                if (N < 2 || (N & (N - 1)) != 0 || R < 1 || P < 1 || 128L * R * N * P > MaxScryptMemory || 128L * R * N > MaxScryptMemory)
                    throw new CryptoException($"key file has unusable scrypt parameters (n {N}, r {R}, p {P})");
                return SCrypt.Generate(passphrase.ToArray(), Salt, N, R, P, 32);
            case KdfKind.Pbkdf2:
                if (Iterations < 1 || Iterations > MaxPbkdf2Iterations)
                    throw new CryptoException($"key file has an unusable PBKDF2 iteration count {Iterations}");
                return Rfc2898DeriveBytes.Pbkdf2(passphrase, Salt, Iterations, HashAlgorithmName.SHA256, 32);
            default:
                throw new InvalidOperationException("no kdf");
        }
    }

    /// <summary>The externally tagged JSON PBS writes: {"Scrypt":{"n":…,"r":…,"p":…,"salt":"…"}} or {"PBKDF2":{"iter":…,"salt":"…"}}.</summary>
    public JsonObject ToJson() => Kind switch
    {
        KdfKind.Scrypt => new JsonObject { ["Scrypt"] = new JsonObject { ["n"] = N, ["r"] = R, ["p"] = P, ["salt"] = Convert.ToBase64String(Salt) } },
        KdfKind.Pbkdf2 => new JsonObject { ["PBKDF2"] = new JsonObject { ["iter"] = Iterations, ["salt"] = Convert.ToBase64String(Salt) } },
        _ => throw new InvalidOperationException("no kdf"),
    };

    /// <exception cref="CryptoException">unknown variant or missing fields</exception>
    public static KeyDerivation FromJson(JsonObject json)
    {
        try
        {
            if (json["Scrypt"] is JsonObject s)
                return new KeyDerivation(KdfKind.Scrypt, KeyFileBase64.Decode(s["salt"]!.GetValue<string>()),
                    N: checked((int)s["n"]!.GetValue<long>()), R: checked((int)s["r"]!.GetValue<long>()), P: checked((int)s["p"]!.GetValue<long>()));
            if (json["PBKDF2"] is JsonObject p)
                return new KeyDerivation(KdfKind.Pbkdf2, KeyFileBase64.Decode(p["salt"]!.GetValue<string>()),
                    Iterations: checked((int)p["iter"]!.GetValue<long>()));
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new CryptoException($"key file has a malformed kdf: {e.Message}", e);
        }
        throw new CryptoException("key file has an unknown kdf (expected Scrypt or PBKDF2)");
    }
}

/// <summary>Standard base64 as PBS writes it (padded); padding is optional on input.</summary>
internal static class KeyFileBase64
{
    public static byte[] Decode(string text)
    {
        var t = text.Trim();
        if (t.Length % 4 != 0) t = t.PadRight(t.Length + (4 - t.Length % 4), '=');
        return Convert.FromBase64String(t);
    }
}
