namespace BackupFs.S3;

/// <summary>Where S3 code reports ignored oddities (hostile keys, stray objects) unless a caller supplies its own sink.</summary>
public static class S3Warnings
{
    public static readonly Action<string> Default = message => Console.Error.WriteLine("warning: " + message);
}
