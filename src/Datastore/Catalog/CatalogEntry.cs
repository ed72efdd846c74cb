namespace BackupFs.Datastore.Catalog;

/// <summary>Entry kinds of a PBS catalog; the value is the type byte written before each entry.</summary>
public enum CatalogEntryKind : byte
{
    Directory = (byte)'d',
    File = (byte)'f',
    Symlink = (byte)'l',
    Hardlink = (byte)'h',
    BlockDevice = (byte)'b',
    CharDevice = (byte)'c',
    Fifo = (byte)'p',
    Socket = (byte)'s',
}

/// <summary>
/// One entry of a catalog directory table. Files carry size and mtime (whole seconds, as the
/// client's stat st_mtime); directories carry where their own table starts in the catalog.
/// Other kinds carry nothing but the name.
/// </summary>
public sealed record CatalogEntry(byte[] Name, CatalogEntryKind Kind, ulong Size = 0, long MtimeSeconds = 0)
{
    /// <summary>Directories: absolute offset of the directory's table (its length varint).</summary>
    public long TableOffset { get; init; }

    /// <summary>Directories: the table must end at or before this offset (its parent's table start, or the tail pointer).</summary>
    internal long TableLimit { get; init; }

    public bool IsDirectory => Kind == CatalogEntryKind.Directory;

    public string NameText => System.Text.Encoding.UTF8.GetString(Name);

    internal static bool IsKnownKind(byte b) => b is (byte)'d' or (byte)'f' or (byte)'l' or (byte)'h' or (byte)'b' or (byte)'c' or (byte)'p' or (byte)'s';
}
