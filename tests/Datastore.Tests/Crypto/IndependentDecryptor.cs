using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;

namespace BackupFs.Datastore.Tests.Crypto;

/// <summary>
/// A second, deliberately separate reader of PBS's encrypted format, written in the tests from the
/// facts only (no BackupFs decoder, key or index code): blob header parsing, CRC-32 over the
/// ciphertext, AES-256-GCM with the 16-byte IV straight from BouncyCastle (tag stored before the
/// ciphertext), zstd, keyed digest SHA-256(plain ‖ id_key), and the .didx/.fidx layout.
/// </summary>
internal sealed class IndependentDecryptor
{
    private static readonly byte[] MagicEncrypted = Convert.FromHexString("7b6785be222d4cf0");
    private static readonly byte[] MagicEncryptedZstd = Convert.FromHexString("e6591bbf0bbfd80b");
    private static readonly byte[] MagicDynamic = Convert.FromHexString("1c914ea519bab3cd");
    private static readonly byte[] MagicFixed = Convert.FromHexString("2f7f41ed91fd0fcd");

    private readonly byte[] _key;
    public byte[] IdKey { get; }

    public IndependentDecryptor(byte[] rawKey)
    {
        _key = rawKey;
        IdKey = Rfc2898DeriveBytes.Pbkdf2(rawKey, "_id_key"u8.ToArray(), 10, HashAlgorithmName.SHA256, 32);
    }

    /// <summary>Fingerprint, full form, from the facts: SHA-256(SHA-256("Proxmox Backup Encryption Key Fingerprint") ‖ id_key).</summary>
    public string Fingerprint => string.Join(':', SHA256.HashData([.. SHA256.HashData("Proxmox Backup Encryption Key Fingerprint"u8), .. IdKey]).Select(b => b.ToString("x2")));

    public byte[] DecryptBlob(byte[] blob)
    {
        var magic = blob.AsSpan(0, 8);
        bool zstd = magic.SequenceEqual(MagicEncryptedZstd);
        if (!zstd && !magic.SequenceEqual(MagicEncrypted)) throw new InvalidDataException("not an encrypted blob: " + Convert.ToHexString(magic));
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(8));
        if (crc != Crc32.HashToUInt32(blob.AsSpan(44))) throw new InvalidDataException("CRC");
        var iv = blob.AsSpan(12, 16).ToArray();
        var tag = blob.AsSpan(28, 16).ToArray();
        var cipherText = blob.AsSpan(44).ToArray();
        var gcm = new GcmBlockCipher(new AesEngine());
        gcm.Init(false, new AeadParameters(new KeyParameter(_key), 128, iv));
        byte[] input = [.. cipherText, .. tag];
        var output = new byte[gcm.GetOutputSize(input.Length)];
        int n = gcm.ProcessBytes(input, 0, input.Length, output, 0);
        n += gcm.DoFinal(output, n);
        var plain = output.AsSpan(0, n).ToArray();
        if (!zstd) return plain;
        using var d = new ZstdSharp.Decompressor();
        return d.Unwrap(plain).ToArray();
    }

    /// <summary>The stream of a .didx or .fidx, every chunk decrypted and its keyed digest checked.</summary>
    public byte[] ReadArchive(string indexPath, string chunkDir)
    {
        var index = File.ReadAllBytes(indexPath);
        var magic = index.AsSpan(0, 8);
        var result = new MemoryStream();
        if (magic.SequenceEqual(MagicDynamic))
        {
            long previous = 0;
            for (int at = 4096; at < index.Length; at += 40)
            {
                long end = (long)BinaryPrimitives.ReadUInt64LittleEndian(index.AsSpan(at));
                var digest = index.AsSpan(at + 8, 32).ToArray();
                var data = Chunk(chunkDir, digest);
                if (data.Length != end - previous) throw new InvalidDataException("chunk size");
                result.Write(data);
                previous = end;
            }
        }
        else if (magic.SequenceEqual(MagicFixed))
        {
            // header: magic, crc?, uuid(16), ctime(8), index_csum(32), size(8), chunk_size(8), reserved…
            long size = (long)BinaryPrimitives.ReadUInt64LittleEndian(index.AsSpan(64));
            long chunkSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(index.AsSpan(72));
            for (int at = 4096, i = 0; at < index.Length; at += 32, i++)
            {
                var data = Chunk(chunkDir, index.AsSpan(at, 32).ToArray());
                if (data.Length != Math.Min(chunkSize, size - i * chunkSize)) throw new InvalidDataException("chunk size");
                result.Write(data);
            }
        }
        else throw new InvalidDataException("not an index");
        return result.ToArray();
    }

    private byte[] Chunk(string chunkDir, byte[] digest)
    {
        var hex = Convert.ToHexStringLower(digest);
        var plain = DecryptBlob(File.ReadAllBytes(Path.Combine(chunkDir, hex[..4], hex)));
        if (!SHA256.HashData([.. plain, .. IdKey]).AsSpan().SequenceEqual(digest)) throw new InvalidDataException("keyed digest");
        return plain;
    }
}
