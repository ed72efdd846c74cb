using System.CommandLine;
using BackupFs.Datastore.Crypto;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// `backupfs key create|show|change-passphrase FILE`: PBS-compatible encryption key files
/// (what proxmox-backup-client key … reads and writes). The raw key is never printed.
/// </summary>
public static class KeyCommands
{
    public static Command Create()
    {
        var command = new Command("key", "create and inspect encryption key files (PBS key config JSON)");
        command.Subcommands.Add(CreateKey());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(ChangePassphrase());
        return command;
    }

    private static Option<string> Kdf() => new("--kdf")
    {
        Description = "how the passphrase protects the key: scrypt (default, as PBS), pbkdf2, or none (raw key in the file)",
        DefaultValueFactory = _ => "scrypt",
    };

    private static Command CreateKey()
    {
        var file = new Argument<string>("FILE") { Description = "key file to create (must not exist); written with mode 0600" };
        var kdf = Kdf();
        var hint = new Option<string?>("--hint") { Description = "password hint stored in the file (not with --kdf none)" };
        var command = new Command("create", "create a new random encryption key") { file, kdf, hint };
        command.SetAction(parse =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            if (File.Exists(path) || Directory.Exists(path)) throw new CryptoException($"{path} already exists");
            var derivation = KeyDerivation.ForName(parse.GetValue(kdf)!);
            var passphrase = derivation is null ? [] : PassphraseSource.GetNew(path);
            var key = CryptKey.Generate();
            try { KeyFile.Create(key, derivation, passphrase, hint: parse.GetValue(hint)).Save(path); }
            finally { Array.Clear(passphrase); }
            parse.InvocationConfiguration.Output.WriteLine($"created key {path}, fingerprint {key.Fingerprint.Full}");
            return 0;
        });
        return command;
    }

    private static Command Show()
    {
        var file = new Argument<string>("FILE");
        var command = new Command("show", "show a key file's kdf, dates and fingerprint (without asking for the passphrase)") { file };
        command.SetAction(parse =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            var key = KeyFile.Load(path);
            // PBS's key show prints the fingerprint stored in the file (full form), computed for kdf-null files without one.
            var fingerprint = key.Fingerprint ?? (key.NeedsPassphrase ? null : key.Open(default).Fingerprint.Full);
            var o = parse.InvocationConfiguration.Output;
            o.WriteLine($"path:        {path}");
            o.WriteLine($"kdf:         {key.Kdf?.Kind switch { KdfKind.Scrypt => "scrypt", KdfKind.Pbkdf2 => "pbkdf2", _ => "none" }}");
            o.WriteLine($"created:     {key.Created}");
            o.WriteLine($"modified:    {key.Modified}");
            o.WriteLine($"fingerprint: {fingerprint ?? "(not stored in the file)"}");
            if (key.Hint is not null) o.WriteLine($"hint:        {key.Hint}");
            return 0;
        });
        return command;
    }

    private static Command ChangePassphrase()
    {
        var file = new Argument<string>("FILE");
        var kdf = Kdf();
        var hint = new Option<string?>("--hint") { Description = "new password hint" };
        var command = new Command("change-passphrase", "re-wrap the same key with a new passphrase (or --kdf none); fingerprint and creation time stay") { file, kdf, hint };
        command.SetAction(parse =>
        {
            var path = Path.GetFullPath(parse.GetValue(file)!);
            var old = KeyFile.Load(path);
            var oldPass = old.NeedsPassphrase ? PassphraseSource.Get(path) : [];
            var key = old.Open(oldPass);
            Array.Clear(oldPass);
            var derivation = KeyDerivation.ForName(parse.GetValue(kdf)!);
            // The old passphrase comes from PBS's sources; the new one from its own variable or the terminal.
            var passphrase = derivation is null ? [] : NewPassphrase(path);
            try { KeyFile.Create(key, derivation, passphrase, old.Created, parse.GetValue(hint)).Save(path, replace: true); }
            finally { Array.Clear(passphrase); }
            parse.InvocationConfiguration.Output.WriteLine($"changed passphrase of {path} (fingerprint {key.Fingerprint.Full})");
            return 0;
        });
        return command;
    }

    /// <summary>BACKUPFS_NEW_ENCRYPTION_PASSWORD for scripts, else the terminal (twice).</summary>
    private static byte[] NewPassphrase(string path) =>
        Environment.GetEnvironmentVariable(NewPasswordVariable) is { } text
            ? System.Text.Encoding.UTF8.GetBytes(text)
            : PassphraseSource.Prompt("New Encryption Key Password: ") is var first
              && PassphraseSource.Prompt("Verify Password: ") is var second
              && first.AsSpan().SequenceEqual(second) ? first : throw new CryptoException("Passwords do not match!");

    public const string NewPasswordVariable = "BACKUPFS_NEW_ENCRYPTION_PASSWORD";
}
