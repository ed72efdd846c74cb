using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Layout;

/// <summary>The three PBS group types; the enum order is PBS's sort order (ct &lt; host &lt; vm).</summary>
public enum BackupType { Ct, Host, Vm }

public static class BackupTypes
{
    public static readonly BackupType[] All = [BackupType.Ct, BackupType.Host, BackupType.Vm];

    public static string ToName(this BackupType t) => t switch
    {
        BackupType.Vm => "vm",
        BackupType.Ct => "ct",
        BackupType.Host => "host",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static bool TryParse(string s, out BackupType type)
    {
        switch (s)
        {
            case "vm": type = BackupType.Vm; return true;
            case "ct": type = BackupType.Ct; return true;
            case "host": type = BackupType.Host; return true;
            default: type = default; return false;
        }
    }

    public static BackupType Parse(string s) =>
        TryParse(s, out var t) ? t : throw new InvalidNameException($"invalid backup type '{s}' (expected vm, ct or host)");
}
