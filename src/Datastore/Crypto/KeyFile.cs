using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// A PBS key file (pbs-key-config KeyConfig JSON): kdf (null, Scrypt or PBKDF2), created,
/// modified, data, optional fingerprint and hint. With kdf null, data is the 32-byte raw key;
/// otherwise data = IV(16) ‖ tag(16) ‖ AES-256-GCM(derived key, raw key). Written compact in
/// that field order, 0600, never through a world-readable moment.
/// </summary>
public sealed class KeyFile
{
    public const int MinPassphraseBytes = 5;

    public KeyDerivation? Kdf { get; private init; }
    public string Created { get; private init; } = "";
    public string Modified { get; private init; } = "";
    public byte[] Data { get; private init; } = [];
    /// <summary>Full form, as stored (may be absent in old files).</summary>
    public string? Fingerprint { get; private init; }
    public string? Hint { get; private init; }

    public bool NeedsPassphrase => Kdf is not null;

    /// <exception cref="CryptoException">not a key file</exception>
    public static KeyFile Parse(ReadOnlySpan<byte> json, string where = "key file")
    {
        try
        {
            var root = JsonNode.Parse(json) as JsonObject ?? throw new CryptoException($"{where} is not a JSON object");
            var kdf = root["kdf"] is JsonObject k ? KeyDerivation.FromJson(k) : null;
            var data = KeyFileBase64.Decode(root["data"]?.GetValue<string>() ?? throw new CryptoException($"{where} has no \"data\""));
            return new KeyFile
            {
                Kdf = kdf,
                Created = root["created"]?.GetValue<string>() ?? "",
                Modified = root["modified"]?.GetValue<string>() ?? "",
                Data = data,
                Fingerprint = root["fingerprint"]?.GetValue<string>(),
                Hint = root["hint"]?.GetValue<string>(),
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new CryptoException($"{where} is not a PBS key file: {e.Message}", e);
        }
    }

    /// <exception cref="CryptoException">unreadable or not a key file</exception>
    public static KeyFile Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CryptoException($"cannot read key file {path}: {e.Message}", e);
        }
        return Parse(bytes, $"key file {path}");
    }

    /// <summary>Opens the key (PBS's KeyConfig::decrypt), checking the stored fingerprint.</summary>
    /// <param name="passphrase">the passphrase's UTF-8 bytes; ignored when the file has no kdf</param>
    /// <exception cref="CryptoException">too short or wrong passphrase, wrong fingerprint</exception>
    public CryptKey Open(ReadOnlySpan<byte> passphrase)
    {
        byte[] raw;
        if (Kdf is null) raw = Data;
        else
        {
            if (passphrase.Length < MinPassphraseBytes) throw new CryptoException("Passphrase is too short!");
            if (Data.Length < 32) throw new CryptoException("Unable to decrypt key - data too short");
            var derived = Kdf.DeriveKey(passphrase);
            raw = new byte[Data.Length - 32];
            try { AesGcmCipher.Decrypt(derived, Data.AsSpan(0, 16), Data.AsSpan(16, 16), Data.AsSpan(32), raw); }
            catch (CryptoException)
            {
                throw new CryptoException(Hint is { } hint ? $"Unable to decrypt key (password hint: {hint})" : "Unable to decrypt key (wrong password?)");
            }
            finally { CryptographicOperations.ZeroMemory(derived); }
        }
        if (raw.Length != CryptKey.KeySize) throw new CryptoException($"key file holds a {raw.Length}-byte key, expected {CryptKey.KeySize}");
        var key = new CryptKey(raw);
        if (Kdf is not null) CryptographicOperations.ZeroMemory(raw);
        if (Fingerprint is not null)
        {
            if (!KeyFingerprint.TryParse(Fingerprint, out var stored))
                throw new CryptoException($"key file has an unreadable fingerprint '{Fingerprint}'");
            if (stored != key.Fingerprint)
                throw new CryptoException($"KeyConfig contains wrong fingerprint {stored.Short}, contained key has fingerprint {key.Fingerprint.Short}");
        }
        return key;
    }

    /// <summary>A key file for <paramref name="key"/>: kdf null (raw key stored) or wrapped with the passphrase.</summary>
    public static KeyFile Create(CryptKey key, KeyDerivation? kdf, ReadOnlySpan<byte> passphrase, string? created = null, string? hint = null)
    {
        var now = Rfc3339Now();
        var raw = key.ExportRawKey();
        byte[] data;
        if (kdf is null)
        {
            if (hint is not null) throw new CryptoException("a password hint needs a kdf (scrypt or pbkdf2)");
            data = raw;
        }
        else
        {
            if (passphrase.Length < MinPassphraseBytes) throw new CryptoException("Passphrase is too short!");
            var derived = kdf.DeriveKey(passphrase);
            data = new byte[64];
            RandomNumberGenerator.Fill(data.AsSpan(0, 16));
            AesGcmCipher.Encrypt(derived, data.AsSpan(0, 16), raw, data.AsSpan(32), data.AsSpan(16, 16));
            CryptographicOperations.ZeroMemory(derived);
            CryptographicOperations.ZeroMemory(raw);
        }
        return new KeyFile { Kdf = kdf, Created = created ?? now, Modified = now, Data = data, Fingerprint = key.Fingerprint.Full, Hint = hint };
    }

    /// <summary>Compact JSON in PBS's field order.</summary>
    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WritePropertyName("kdf");
            if (Kdf is null) w.WriteNullValue(); else Kdf.ToJson().WriteTo(w);
            w.WriteString("created", Created);
            w.WriteString("modified", Modified);
            w.WriteString("data", Convert.ToBase64String(Data));
            if (Fingerprint is not null) w.WriteString("fingerprint", Fingerprint);
            if (Hint is not null) w.WriteString("hint", Hint);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>
    /// Writes the file with mode 0600 from its creation on: a new file with O_EXCL, or (when
    /// <paramref name="replace"/>) a private temporary file renamed over the old one.
    /// </summary>
    public void Save(string path, bool replace = false)
    {
        var full = Path.GetFullPath(path);
        var target = replace ? Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}") : full;
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(target, options))
            {
                stream.Write(ToJson());
                stream.Flush(flushToDisk: true);
            }
            if (replace) File.Move(target, full, overwrite: true);
        }
        catch (IOException e) when (!replace && File.Exists(full))
        {
            throw new CryptoException($"{full} already exists", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (replace) try { File.Delete(target); } catch (IOException) { }
            throw new CryptoException($"cannot write key file {full}: {e.Message}", e);
        }
    }

    /// <summary>Local time with a numeric offset, never "Z" (proxmox-time epoch_to_rfc3339).</summary>
    private static string Rfc3339Now() => DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    /// <summary>The passphrase as bytes: UTF-8, as PBS reads it.</summary>
    public static byte[] PassphraseBytes(string passphrase) => Encoding.UTF8.GetBytes(passphrase);
}
