using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Client;

/// <summary>A write to the bucket was refused because this host only reads the datastore (reader or read-only mount).</summary>
public sealed class S3ReadOnlyException(string message) : BackupFsException(message);
