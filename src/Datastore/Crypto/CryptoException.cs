using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// A key, passphrase, signature or authentication tag did not check out: wrong key, wrong
/// passphrase, tampered data or a manifest changed after signing. Never accompanied by data.
/// </summary>
public class CryptoException : BackupFsException
{
    public CryptoException(string message, Exception? inner = null) : base(message, inner) { }
}
