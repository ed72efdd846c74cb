using System.CommandLine;
using System.Numerics;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// Range checks for numeric options, run by the parser: a value out of range is a parse error (one
/// "error: …" line) before the command does anything, never an exception from deep inside.
/// </summary>
public static class OptionRanges
{
    public static Option<T> AtLeast<T>(this Option<T> option, T min) where T : struct, INumber<T>
    {
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<T>();
            if (value < min || (value is double d && double.IsNaN(d)))
                result.AddError($"{option.Name} must be at least {min}, not {value}");
        });
        return option;
    }

    public static Option<T?> AtLeast<T>(this Option<T?> option, T min) where T : struct, INumber<T>
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T?>() is { } value && value < min)
                result.AddError($"{option.Name} must be at least {min}, not {value}");
        });
        return option;
    }
}
