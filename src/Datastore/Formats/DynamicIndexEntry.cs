namespace BackupFs.Datastore.Formats;

/// <summary>One .didx entry: the chunk's exclusive end offset in the stream, and its digest.</summary>
public readonly record struct DynamicIndexEntry(long End, Digest Digest);
