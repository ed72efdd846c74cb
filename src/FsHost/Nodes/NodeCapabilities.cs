using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Nodes;

// What a node can do, one interface per capability. A node implements the ones it has; the
// NodeHost answers the others (see each request there). Capability calls may return an errno or
// throw: the host maps exceptions through ErrnoMapper. Names arrive as raw bytes without NUL and
// stay valid until the returned task completes.

/// <summary>A directory that resolves names.</summary>
public interface INodeLookup
{
    /// <summary>The child called <paramref name="name"/>; null when there is none.</summary>
    ValueTask<VfsResult<Node?>> LookupAsync(RequestContext ctx, ReadOnlyMemory<byte> name);

    /// <summary>How long the kernel may remember a missing name; zero answers ENOENT instead.</summary>
    TimeSpan MissTimeout { get; }
}

/// <summary>A directory that can be listed (opendir; readdir goes to the <see cref="IOpenDirectory"/>).</summary>
public interface INodeDirectoryOpener
{
    ValueTask<VfsResult<OpenedDirectory>> OpenDirectoryAsync(RequestContext ctx);
}

/// <summary>A file that can be opened (open(2) without O_CREAT).</summary>
public interface INodeOpener
{
    ValueTask<VfsResult<OpenedFile>> OpenAsync(RequestContext ctx, int flags);
}

/// <summary>A symlink.</summary>
public interface INodeLinkReader
{
    ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLinkAsync(RequestContext ctx);
}

/// <summary>chmod, chown, truncate, utimens.</summary>
public interface INodeAttributeSetter
{
    /// <summary>Applies the request and returns the new attributes.</summary>
    ValueTask<VfsResult<NodeAttributes>> SetAttributesAsync(RequestContext ctx, SetAttributesRequest request);
}

/// <summary>getxattr and listxattr.</summary>
public interface INodeXattrReader
{
    /// <summary>Same reply rules as <see cref="IFileSystem.GetXattr"/> (see <see cref="XattrReplies"/>).</summary>
    ValueTask<VfsResult<int>> GetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Memory<byte> destination);

    /// <summary>Same reply rules as <see cref="IFileSystem.ListXattr"/>.</summary>
    ValueTask<VfsResult<int>> ListXattrAsync(RequestContext ctx, Memory<byte> destination);
}

/// <summary>setxattr and removexattr.</summary>
public interface INodeXattrWriter
{
    ValueTask<Errno> SetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags);
    ValueTask<Errno> RemoveXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name);
}

/// <summary>statfs for the part of the mount this node belongs to.</summary>
public interface INodeStatistics
{
    /// <param name="knownNodes">nodes the kernel holds now (shown as the file count)</param>
    VfsResult<FileSystemStatistics> GetStatistics(int knownNodes);
}

/// <summary>open(2) with O_CREAT in this directory.</summary>
public interface INodeCreator
{
    /// <param name="mode">as <see cref="IFileSystem.Create"/> passes it (unmasked when the filesystem applies the umask)</param>
    ValueTask<VfsResult<CreatedFile>> CreateAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags);
}

/// <summary>mknod(2) in this directory.</summary>
public interface INodeMaker
{
    ValueTask<VfsResult<Node>> MakeNodeAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev);
}

/// <summary>mkdir(2) in this directory.</summary>
public interface INodeDirectoryMaker
{
    ValueTask<VfsResult<Node>> MakeDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name, uint mode, uint umask);
}

/// <summary>symlink(2) in this directory.</summary>
public interface INodeSymlinker
{
    ValueTask<VfsResult<Node>> SymlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target);
}

/// <summary>link(2) into this directory.</summary>
public interface INodeLinker
{
    /// <summary>Gives <paramref name="node"/> (any node of the mount) the new name; returns the node the entry reply shows.</summary>
    ValueTask<VfsResult<Node>> LinkAsync(RequestContext ctx, Node node, ReadOnlyMemory<byte> newName);
}

/// <summary>unlink(2) in this directory.</summary>
public interface INodeUnlinker
{
    ValueTask<Errno> UnlinkAsync(RequestContext ctx, ReadOnlyMemory<byte> name);
}

/// <summary>rmdir(2) in this directory.</summary>
public interface INodeDirectoryRemover
{
    ValueTask<Errno> RemoveDirectoryAsync(RequestContext ctx, ReadOnlyMemory<byte> name);
}

/// <summary>rename(2) out of this directory.</summary>
public interface INodeRenamer
{
    /// <param name="newParent">the target directory (any node of the mount)</param>
    ValueTask<Errno> RenameAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Node newParent, ReadOnlyMemory<byte> newName, RenameFlags flags);
}
