namespace BackupFs.Datastore.Formats;

/// <summary>
/// The storage backend did not answer at all (timeout, refused or reset connection, or known to be
/// down): nothing was learnt about the data asked for. Operations that record per-item results
/// (verify's "unreadable chunk") abort instead, with this one error.
/// </summary>
public interface IBackendUnreachable;
