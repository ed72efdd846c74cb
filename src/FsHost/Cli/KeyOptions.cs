using System.CommandLine;
using BackupFs.Datastore.Crypto;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Cli;

/// <summary>--keyfile and the checks a command makes once it has opened a snapshot with keys.</summary>
public static class KeyOptions
{
    /// <summary>Internal hand-over from a background mount to its foreground child: passphrases, one line per key file, on this descriptor.</summary>
    public const string ChildPassphrasesFdVariable = "BACKUPFS_KEY_PASSPHRASES_FD";

    public static Option<string?> KeyFile() => new("--keyfile")
    {
        Description = "encryption key file (PBS key config JSON) for encrypted or signed snapshots",
    };

    public static Option<string[]> KeyFiles() => new("--keyfile")
    {
        Description = "encryption key file (PBS key config JSON); repeat for several keys, each snapshot uses the one its manifest names",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static KeyRing Load(string? path) => Load(path is null ? null : [path]);

    /// <summary>Opens every key file (asking for passphrases as PBS's client does).</summary>
    public static KeyRing Load(IEnumerable<string>? paths, IReadOnlyList<byte[]>? passphrases = null)
    {
        var keys = new List<CryptKey>();
        int next = 0;
        foreach (var path in paths ?? [])
        {
            var file = Datastore.Crypto.KeyFile.Load(path);
            byte[] pass = [];
            if (file.NeedsPassphrase)
                pass = passphrases is not null && next < passphrases.Count ? passphrases[next++] : PassphraseSource.Get(path);
            var key = file.Open(pass);
            Array.Clear(pass);
            keys.Add(key);
        }
        return new KeyRing(keys);
    }

    /// <summary>
    /// The crypto part of a backup's options from --keyfile, --crypt-mode and --master-pubkey-file,
    /// with PBS's client rules (a key means encrypt unless sign-only; none refuses a key).
    /// </summary>
    public static Datastore.Writing.BackupOptions WriteCrypto(string? keyPath, string? mode, string? masterPubkeyPath, TextWriter log)
    {
        Datastore.Formats.CryptMode? cryptMode = null;
        if (mode is not null)
        {
            if (!Datastore.Formats.CryptModeNames.TryParse(mode, out var m))
                throw new CryptoException($"--crypt-mode must be none, encrypt or sign-only, not '{mode}'");
            cryptMode = m;
        }
        if (keyPath is null)
        {
            if (cryptMode is Datastore.Formats.CryptMode.Encrypt or Datastore.Formats.CryptMode.SignOnly)
                throw new CryptoException($"--crypt-mode {mode} needs --keyfile");
            if (masterPubkeyPath is not null) throw new CryptoException("--master-pubkey-file needs --keyfile");
            return new Datastore.Writing.BackupOptions();
        }
        if (cryptMode == Datastore.Formats.CryptMode.None) throw new CryptoException("--crypt-mode none does not take --keyfile");
        var file = Datastore.Crypto.KeyFile.Load(keyPath);
        var pass = file.NeedsPassphrase ? PassphraseSource.Get(keyPath) : [];
        var key = file.Open(pass);
        Array.Clear(pass);
        log.WriteLine($"Encryption key fingerprint: {key.Fingerprint.Short}");
        string? pem = null;
        if (masterPubkeyPath is not null)
        {
            try { pem = File.ReadAllText(masterPubkeyPath); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CryptoException($"cannot read master public key {masterPubkeyPath}: {e.Message}", e); }
        }
        return new Datastore.Writing.BackupOptions
        {
            Key = key,
            CryptMode = cryptMode ?? Datastore.Formats.CryptMode.Encrypt,
            MasterPublicKeyPem = pem,
            KeyCreated = file.Created.Length > 0 ? file.Created : null,
        };
    }

    /// <summary>
    /// Reads and checks the passphrase of every passphrase-protected key file, in order (a
    /// background mount hands them to its detached child, which has no terminal).
    /// </summary>
    public static List<byte[]> CollectPassphrases(IEnumerable<string> paths)
    {
        var list = new List<byte[]>();
        foreach (var path in paths)
        {
            var file = Datastore.Crypto.KeyFile.Load(path);
            if (!file.NeedsPassphrase) continue;
            var pass = PassphraseSource.Get(path);
            file.Open(pass); // a wrong passphrase fails here, before the mount starts
            list.Add(pass);
        }
        return list;
    }

    /// <summary>The passphrases a background mount wrote to this child's descriptor, one per line.</summary>
    public static List<byte[]>? HandedOverPassphrases()
    {
        if (Environment.GetEnvironmentVariable(ChildPassphrasesFdVariable) is not { } text) return null;
        Environment.SetEnvironmentVariable(ChildPassphrasesFdVariable, null);
        if (!int.TryParse(text, out int fd) || fd < 0) throw new CryptoException($"{ChildPassphrasesFdVariable} is not a file descriptor");
        using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: fd >= 3), FileAccess.Read, 1);
        using var reader = new StreamReader(stream, new System.Text.UTF8Encoding(false));
        var list = new List<byte[]>();
        while (list.Count < 1000 && reader.ReadLine() is { } line) list.Add(System.Text.Encoding.UTF8.GetBytes(line));
        return list;
    }

    /// <summary>
    /// PBS's check_fingerprint for commands: a snapshot that names a key none of the given keys
    /// matches is "wrong key" (given keys) — without keys, encrypted files fail on access.
    /// </summary>
    public static void CheckGivenKeyFits(SnapshotReader reader, KeyRing keys, TextWriter error)
    {
        if (reader.Key is not null) return;
        if (reader.NamedFingerprint is { } named)
        {
            if (!keys.IsEmpty)
                throw new CryptoException($"wrong key - manifest's key {named.Short} does not match provided key {keys.Keys[0].Fingerprint.Short}");
            if (!reader.IsEncrypted)
                error.WriteLine($"warning: {reader.Snapshot} is signed with key {named.Short}; its signature is not checked without --keyfile");
        }
    }
}
