using System.Security.Cryptography;
using System.Text;
using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Tests.Formats;

public class BlobMagicTests
{
    public static TheoryData<string, string> Phrases => new()
    {
        { nameof(BlobMagic.Uncompressed), "Proxmox Backup uncompressed blob v1.0" },
        { nameof(BlobMagic.Compressed), "Proxmox Backup zstd compressed blob v1.0" },
        { nameof(BlobMagic.Encrypted), "Proxmox Backup encrypted blob v1.0" },
        { nameof(BlobMagic.EncryptedCompressed), "Proxmox Backup zstd compressed encrypted blob v1.0" },
        { nameof(BlobMagic.FixedIndex), "Proxmox Backup fixed sized chunk index v1.0" },
        { nameof(BlobMagic.DynamicIndex), "Proxmox Backup dynamic sized chunk index v1.0" },
        { nameof(BlobMagic.Catalog), "Proxmox Backup Catalog file v1.0" },
    };

    [Theory]
    [MemberData(nameof(Phrases))]
    public void MagicIsTheStartOfTheSha256OfItsPhrase(string name, string phrase)
    {
        byte[] expected = SHA256.HashData(Encoding.ASCII.GetBytes(phrase))[..8];
        byte[] actual = name switch
        {
            nameof(BlobMagic.Uncompressed) => BlobMagic.Uncompressed.ToArray(),
            nameof(BlobMagic.Compressed) => BlobMagic.Compressed.ToArray(),
            nameof(BlobMagic.Encrypted) => BlobMagic.Encrypted.ToArray(),
            nameof(BlobMagic.EncryptedCompressed) => BlobMagic.EncryptedCompressed.ToArray(),
            nameof(BlobMagic.FixedIndex) => BlobMagic.FixedIndex.ToArray(),
            nameof(BlobMagic.DynamicIndex) => BlobMagic.DynamicIndex.ToArray(),
            nameof(BlobMagic.Catalog) => BlobMagic.Catalog.ToArray(),
            _ => throw new ArgumentException(name),
        };
        Assert.Equal(Convert.ToHexStringLower(expected), Convert.ToHexStringLower(actual));
    }

    [Fact]
    public void EveryMagicIsCovered()
    {
        var properties = typeof(BlobMagic).GetProperties().Select(p => p.Name).Order();
        Assert.Equal(properties, Phrases.Select(row => (string)row[0]).Order());
    }

    [Fact]
    public void KnownHexValues()
    {
        // formats.md §2.1
        Assert.Equal("42ab3807be8370a1", Convert.ToHexStringLower(BlobMagic.Uncompressed));
        Assert.Equal("31b958426fb6a37f", Convert.ToHexStringLower(BlobMagic.Compressed));
        Assert.Equal("7b6785be222d4cf0", Convert.ToHexStringLower(BlobMagic.Encrypted));
        Assert.Equal("e6591bbf0bbfd80b", Convert.ToHexStringLower(BlobMagic.EncryptedCompressed));
        Assert.Equal("2f7f41ed91fd0fcd", Convert.ToHexStringLower(BlobMagic.FixedIndex));
        Assert.Equal("1c914ea519bab3cd", Convert.ToHexStringLower(BlobMagic.DynamicIndex));
        Assert.Equal("91fd60f9c46758d5", Convert.ToHexStringLower(BlobMagic.Catalog));
    }
}
