using System.Text;

namespace BackupFs.Datastore.Locking;

/// <summary>
/// systemd's unit-name escaping of a path, as PBS names its lock files with it: leading '/'
/// dropped, an empty path is "-", '/' becomes '-', and every byte that is not an ASCII letter,
/// digit, '_' or '.' (and a '.' in the first position) becomes "\x" plus two lower-case hex digits.
/// </summary>
public static class SystemdEscape
{
    public static string EscapePath(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path.TrimStart('/'));
        if (bytes.Length == 0) return "-";
        var sb = new StringBuilder(bytes.Length * 2);
        for (int i = 0; i < bytes.Length; i++)
        {
            byte c = bytes[i];
            if (c == (byte)'/') sb.Append('-');
            else if ((i == 0 && c == (byte)'.') || !IsPlain(c)) sb.Append("\\x").Append(c.ToString("x2"));
            else sb.Append((char)c);
        }
        return sb.ToString();
    }

    private static bool IsPlain(byte c) =>
        c is (byte)'_' or (byte)'.' || c is >= (byte)'0' and <= (byte)'9' || c is >= (byte)'A' and <= (byte)'Z' || c is >= (byte)'a' and <= (byte)'z';
}
