namespace BackupFs.Datastore.Pxar;

/// <summary>What an archive entry is; <see cref="Hardlink"/> entries carry no stat of their own.</summary>
public enum PxarEntryKind { Unknown, Directory, File, Symlink, Hardlink, BlockDevice, CharDevice, Fifo, Socket }
