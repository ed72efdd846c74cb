using System.Text;
using BackupFs.Datastore.Crypto;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// Where a key file's passphrase comes from, as in PBS's client: PBS_ENCRYPTION_PASSWORD,
/// PBS_ENCRYPTION_PASSWORD_FILE (first line), PBS_ENCRYPTION_PASSWORD_FD (first line), else a
/// prompt on the terminal without echo. The passphrase is never logged.
/// </summary>
public static class PassphraseSource
{
    public const string PasswordVariable = "PBS_ENCRYPTION_PASSWORD";
    public const string FileVariable = "PBS_ENCRYPTION_PASSWORD_FILE";
    public const string FdVariable = "PBS_ENCRYPTION_PASSWORD_FD";

    private static string? s_fromFd; // a descriptor can be read once; several key files share its line

    /// <summary>True when one of the environment sources is set.</summary>
    public static bool FromEnvironmentAvailable =>
        new[] { PasswordVariable, FileVariable, FdVariable }.Any(v => Environment.GetEnvironmentVariable(v) is not null);

    /// <exception cref="CryptoException">no source, or the source cannot be read</exception>
    public static byte[] Get(string keyPath)
    {
        if (Environment.GetEnvironmentVariable(PasswordVariable) is { } direct) return Encoding.UTF8.GetBytes(direct);
        if (Environment.GetEnvironmentVariable(FileVariable) is { } file)
        {
            try
            {
                using var reader = new StreamReader(file);
                return Encoding.UTF8.GetBytes(reader.ReadLine() ?? "");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CryptoException($"cannot read {FileVariable} {file}: {e.Message}", e);
            }
        }
        if (Environment.GetEnvironmentVariable(FdVariable) is { } fdText)
        {
            if (s_fromFd is null)
            {
                if (!int.TryParse(fdText, out int fd) || fd < 0) throw new CryptoException($"{FdVariable} is not a file descriptor number: '{fdText}'");
                s_fromFd = ReadFirstLine(fd);
            }
            return Encoding.UTF8.GetBytes(s_fromFd);
        }
        return Prompt($"Encryption Key Password ({Path.GetFileName(keyPath)}): ");
    }

    /// <summary>Reads a new passphrase (twice on a terminal) for key create / change-passphrase.</summary>
    public static byte[] GetNew(string keyPath)
    {
        if (FromEnvironmentAvailable) return Get(keyPath);
        var first = Prompt("Encryption Key Password: ");
        var second = Prompt("Verify Password: ");
        if (!first.AsSpan().SequenceEqual(second)) throw new CryptoException("Passwords do not match!");
        return first;
    }

    /// <summary>The first line of an inherited descriptor (without the line break).</summary>
    public static string ReadFirstLine(int fd)
    {
        try
        {
            using var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1);
            using var reader = new StreamReader(stream);
            return reader.ReadLine() ?? "";
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new CryptoException($"cannot read a passphrase from file descriptor {fd}: {e.Message}", e);
        }
    }

    /// <summary>A prompt on the terminal without echo; an error when there is no terminal.</summary>
    public static byte[] Prompt(string prompt)
    {
        if (Console.IsInputRedirected)
            throw new CryptoException($"a passphrase is needed: set {PasswordVariable}, {FileVariable} or {FdVariable}, or run on a terminal");
        Console.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter) break;
            if (k.Key == ConsoleKey.Backspace) { if (text.Length > 0) text.Length--; continue; }
            if (k.Modifiers.HasFlag(ConsoleModifiers.Control) && k.Key == ConsoleKey.C) throw new OperationCanceledException();
            if (k.KeyChar != '\0') text.Append(k.KeyChar);
        }
        Console.Error.WriteLine();
        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
