namespace BackupFs.Datastore.Formats;

/// <summary>How a manifest entry's data is protected; JSON names "none", "encrypt", "sign-only".</summary>
public enum CryptMode { None, Encrypt, SignOnly }

public static class CryptModeNames
{
    public static string ToJsonName(this CryptMode mode) => mode switch
    {
        CryptMode.None => "none",
        CryptMode.Encrypt => "encrypt",
        CryptMode.SignOnly => "sign-only",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown crypt mode"),
    };

    public static bool TryParse(string name, out CryptMode mode)
    {
        switch (name)
        {
            case "none": mode = CryptMode.None; return true;
            case "encrypt": mode = CryptMode.Encrypt; return true;
            case "sign-only": mode = CryptMode.SignOnly; return true;
            default: mode = default; return false;
        }
    }
}
