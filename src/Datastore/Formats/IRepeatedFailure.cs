namespace BackupFs.Datastore.Formats;

/// <summary>
/// A failure that repeats one already reported (e.g. a backend known to be unreachable failing a
/// request at once): logs may skip it, so a reader retrying in a loop does not flood them.
/// </summary>
public interface IRepeatedFailure;
