namespace BackupFs.Datastore.Formats;

/// <summary>Base of every error BackupFs reports to a user as one clear line (no stack trace).</summary>
public class BackupFsException : Exception
{
    public BackupFsException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A file (blob, index, manifest, pxar) is malformed: wrong magic, size, checksum or structure.</summary>
public class FormatCorruptException : BackupFsException
{
    public FormatCorruptException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A chunk's bytes do not match its digest or CRC. Carries the digest so verify can rename it.</summary>
public sealed class ChunkCorruptException : FormatCorruptException
{
    public Digest Digest { get; }
    public ChunkCorruptException(Digest digest, string message, Exception? inner = null)
        : base($"chunk {digest}: {message}", inner) => Digest = digest;
}

/// <summary>A chunk an index refers to is not in the store.</summary>
public sealed class ChunkMissingException : BackupFsException
{
    public Digest Digest { get; }
    public ChunkMissingException(Digest digest) : base($"chunk {digest} is missing from the store") => Digest = digest;
}

/// <summary>Data is encrypted and no key was given.</summary>
public sealed class EncryptedDataException : BackupFsException
{
    public EncryptedDataException(string message) : base(message) { }
}

/// <summary>A name (namespace, group, snapshot, archive, path component) breaks the datastore's naming rules.</summary>
public sealed class InvalidNameException : BackupFsException
{
    public InvalidNameException(string message) : base(message) { }
}

/// <summary>The storage backend (disk or object store) failed or could not be reached.</summary>
public class BackendException : BackupFsException
{
    public BackendException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A protected snapshot (one with the .protected marker) was asked to be removed.</summary>
public sealed class SnapshotProtectedException : BackupFsException
{
    public SnapshotProtectedException(string snapshot)
        : base($"snapshot {snapshot} is protected; unprotect it first to remove it") { }
}
