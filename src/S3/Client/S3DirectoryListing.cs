namespace BackupFs.S3.Client;

/// <summary>One level of a delimiter listing: the objects directly below the prefix and the sub-prefixes (each ending in the delimiter).</summary>
public sealed record S3DirectoryListing(IReadOnlyList<S3ObjectEntry> Objects, IReadOnlyList<string> Prefixes);
