using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Nodes;

/// <summary>
/// An open file: what <see cref="INodeOpener"/> and <see cref="INodeCreator"/> return. Per-open
/// state (a readahead window, a spool file) lives here. The host keeps it in its handle table
/// until release; what else it can do it declares with <see cref="IFileReader"/>,
/// <see cref="IFileWriter"/> and <see cref="IFileSyncer"/>.
/// </summary>
public interface IOpenFile
{
    /// <summary>The last close; the host has already dropped the handle.</summary>
    ValueTask<Errno> ReleaseAsync();
}

/// <summary>An open file that reads. The read path: errors are thrown (rare), the count returned
/// without wrapping, so a read costs no more than the reader's own work.</summary>
public interface IFileReader
{
    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/> unless the file ends first.</summary>
    ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct);
}

/// <summary>An open file whose bytes are slices of decoded chunks: it hands them over by reference
/// (the binding sends them with one gathered write) instead of copying them into a reply buffer.</summary>
public interface IFileSliceReader
{
    /// <summary>Adds the bytes from <paramref name="offset"/> to <paramref name="into"/>, up to its capacity
    /// unless the file ends first; returns the count.</summary>
    ValueTask<int> ReadSlicesAsync(long offset, ReadSlices into, CancellationToken ct);
}

/// <summary>An open file that writes.</summary>
public interface IFileWriter
{
    /// <summary>Returns the count written.</summary>
    ValueTask<VfsResult<int>> WriteAsync(RequestContext ctx, long offset, ReadOnlyMemory<byte> data);
}

/// <summary>An open file with something to make durable on fsync.</summary>
public interface IFileSyncer
{
    ValueTask<Errno> FsyncAsync(RequestContext ctx, bool dataOnly);
}

/// <summary>An open directory: its listing as fixed at opendir, so readdir cookies stay stable.</summary>
public interface IOpenDirectory
{
    /// <summary>Adds entries from cookie <paramref name="offset"/> (0 = start) until
    /// <paramref name="entries"/> is full or the listing ends.</summary>
    ValueTask<Errno> ReadAsync(RequestContext ctx, ulong offset, DirectoryFiller entries);
}

/// <summary>An open file and its caching options.</summary>
public readonly record struct OpenedFile(IOpenFile File, OpenOptions Options = OpenOptions.None)
{
    /// <summary>A local file with this open's data, for the kernel to read and write directly (see <see cref="OpenInfo.BackingFile"/>).</summary>
    public Microsoft.Win32.SafeHandles.SafeFileHandle? BackingFile { get; init; }
}

/// <summary>An open directory and its caching options.</summary>
public readonly record struct OpenedDirectory(IOpenDirectory Directory, OpenOptions Options = OpenOptions.None);

/// <summary>What create returns: the new node and its open file.</summary>
public readonly record struct CreatedFile(Node Node, OpenedFile Open);
