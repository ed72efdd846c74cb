using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Vfs;

/// <summary>
/// A filesystem served by a binding (FUSE today; Dokan/WinFsp could follow), addressed by node
/// ids like FUSE's low-level API. The root is node 1. Names are raw bytes without NUL.
///
/// Conventions:
/// - Errors are <see cref="Errno"/> values, never exceptions (an exception that escapes anyway
///   becomes EIO).
/// - Operations that may wait on I/O return <see cref="ValueTask"/>. The binding replies at once
///   when the task completed synchronously, else from the thread that completes it; so a wait
///   never parks a reader thread. Name and data buffers passed in stay valid until the task
///   completes, and not after.
/// - Every successful entry reply (lookup, create, mkdir, mknod, symlink, link, readdirplus
///   entries) adds one to the node's lookup count; <see cref="Forget"/> takes them back. A node
///   id must stay valid while its count is above zero.
/// - "." and ".." are never looked up; the kernel resolves them itself.
/// </summary>
public interface IFileSystem
{
    /// <summary>Called once the kernel connection is up; <paramref name="notifier"/> stays
    /// usable until <see cref="Destroy"/>.</summary>
    void Initialize(IKernelNotifier notifier);

    /// <summary>Called when the session ends (unmount, DESTROY or shutdown).</summary>
    void Destroy();

    /// <summary>
    /// True when the filesystem applies the caller's umask itself (the binding then asks the
    /// kernel not to, FUSE_DONT_MASK): it needs the unmasked create mode to give new entries
    /// the permissions a directory's default POSIX ACL prescribes, where the umask does not apply.
    /// </summary>
    bool AppliesUmask => false;

    /// <summary>
    /// Told once the kernel has agreed on its writeback cache: it then owns a file's mtime and ctime
    /// while writing (it sends them with SETATTR when it flushes), so writes must not move them.
    /// </summary>
    void KernelKeepsWriteTimes(bool keeps) { }

    /// <summary>
    /// Told once at INIT whether the connection passes files through: then an open or create whose
    /// <see cref="OpenInfo.BackingFile"/> is set is served by the kernel straight from that file
    /// (reads, writes, mmap), so size and times of written data must be read from the backing file.
    /// Passthrough excludes the kernel's writeback cache on the same connection.
    /// </summary>
    void KernelPassesThrough(bool passesThrough) { }

    // ---- names and attributes ----

    /// <summary>Resolves <paramref name="name"/> in directory <paramref name="parent"/>.
    /// ENOENT for a missing name that must not be cached, or <see cref="EntryInfo.Negative"/>
    /// to let the kernel cache the miss.</summary>
    ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name);

    /// <summary>The kernel dropped <paramref name="lookupCount"/> references to
    /// <paramref name="node"/>. No reply; must not fail. Called for FORGET and BATCH_FORGET.</summary>
    void Forget(ulong node, ulong lookupCount);

    /// <summary>The attributes of <paramref name="node"/> (stat). <paramref name="handle"/> is the
    /// open handle when the request came through an open file, else null.</summary>
    ValueTask<VfsResult<AttributeInfo>> GetAttributes(RequestContext ctx, ulong node, ulong? handle);

    /// <summary>chmod, chown, truncate, utimens; returns the new attributes.</summary>
    ValueTask<VfsResult<AttributeInfo>> SetAttributes(RequestContext ctx, ulong node, SetAttributesRequest request);

    /// <summary>The target of symlink <paramref name="node"/>.</summary>
    ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLink(RequestContext ctx, ulong node);

    // ---- files ----

    /// <summary>Opens file <paramref name="node"/>; <paramref name="flags"/> are the open(2)
    /// flags (O_ACCMODE, O_TRUNC, O_APPEND…; no O_CREAT).</summary>
    ValueTask<VfsResult<OpenInfo>> Open(RequestContext ctx, ulong node, int flags);

    /// <summary>Reads up to <paramref name="destination"/>.Length bytes at <paramref name="offset"/>
    /// into the binding's own reply buffer and returns the count. Fill the whole range unless the
    /// file ends: with the page cache a short read means end of file.</summary>
    ValueTask<VfsResult<int>> Read(RequestContext ctx, ulong node, ulong handle, long offset, Memory<byte> destination);

    /// <summary>
    /// As <see cref="Read"/> for up to <paramref name="into"/>'s capacity, where a binding that can
    /// send chunk slices as they are (writev) lets the file hand them over instead of copying.
    /// A filesystem without such files reads into the flat buffer.
    /// </summary>
    ValueTask<VfsResult<int>> ReadInto(RequestContext ctx, ulong node, ulong handle, long offset, ReadSlices into) =>
        ReadFlat(this, ctx, node, handle, offset, into);

    /// <summary><see cref="ReadInto"/> by copying: <see cref="Read"/> into the flat buffer.</summary>
    public static async ValueTask<VfsResult<int>> ReadFlat(IFileSystem fs, RequestContext ctx, ulong node, ulong handle, long offset, ReadSlices into)
    {
        var room = into.FlatRemaining();
        var read = await fs.Read(ctx, node, handle, offset, room).ConfigureAwait(false);
        if (read.IsOk) into.Advance(Math.Clamp(read.Value, 0, room.Length));
        return read;
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>; returns the count written.</summary>
    ValueTask<VfsResult<int>> Write(RequestContext ctx, ulong node, ulong handle, long offset, ReadOnlyMemory<byte> data);

    /// <summary>close(2) on one file descriptor of an open file (may come several times).</summary>
    ValueTask<Errno> Flush(RequestContext ctx, ulong node, ulong handle);

    /// <summary>
    /// False when <see cref="Flush"/> never has anything to do: the binding may then tell the kernel
    /// so once (FUSE: ENOSYS to the first FLUSH), which saves a round trip on every close. The
    /// kernel still writes back cached data and reports its errors at close.
    /// </summary>
    bool WantsFlush => true;

    /// <summary>fsync(2) / fdatasync(2) (<paramref name="dataOnly"/>).</summary>
    ValueTask<Errno> Fsync(RequestContext ctx, ulong node, ulong handle, bool dataOnly);

    /// <summary>The last close of an open file; the handle is dead afterwards.</summary>
    ValueTask<Errno> Release(RequestContext ctx, ulong node, ulong handle, int flags);

    // ---- directories ----

    /// <summary>Opens directory <paramref name="node"/> for listing.</summary>
    ValueTask<VfsResult<OpenInfo>> OpenDirectory(RequestContext ctx, ulong node, int flags);

    /// <summary>Writes entries starting at cookie <paramref name="offset"/> (0 = start) into
    /// <paramref name="writer"/> until it is full or the listing ends (see
    /// <see cref="DirectoryEntryWriter"/>). The writer is valid until the task completes.</summary>
    ValueTask<Errno> ReadDirectory(RequestContext ctx, ulong node, ulong handle, ulong offset, DirectoryEntryWriter writer);

    /// <summary>The last close of an open directory.</summary>
    ValueTask<Errno> ReleaseDirectory(RequestContext ctx, ulong node, ulong handle);

    // ---- filesystem and extended attributes ----

    /// <summary>statfs (df).</summary>
    ValueTask<VfsResult<FileSystemStatistics>> GetStatistics(RequestContext ctx, ulong node);

    /// <summary>Copies the value of xattr <paramref name="name"/> into <paramref name="destination"/>
    /// and returns its length. With an empty destination return only the length (size query);
    /// ERANGE when it does not fit; ENODATA when there is no such attribute.</summary>
    ValueTask<VfsResult<int>> GetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, Memory<byte> destination);

    /// <summary>Copies the NUL-terminated xattr names into <paramref name="destination"/> and
    /// returns the total length; same size-query and ERANGE rules as <see cref="GetXattr"/>.</summary>
    ValueTask<VfsResult<int>> ListXattr(RequestContext ctx, ulong node, Memory<byte> destination);

    /// <summary>setxattr(2).</summary>
    ValueTask<Errno> SetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags);

    /// <summary>removexattr(2).</summary>
    ValueTask<Errno> RemoveXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name);

    // ---- changing the tree ----

    /// <summary>Creates and opens regular file <paramref name="name"/> (open with O_CREAT).
    /// <paramref name="mode"/> already has the caller's <paramref name="umask"/> applied by the
    /// kernel unless <see cref="AppliesUmask"/>; then applying it is the filesystem's job.</summary>
    ValueTask<VfsResult<CreateInfo>> Create(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags);

    /// <summary>mknod(2): a regular file, fifo, socket or device node.</summary>
    ValueTask<VfsResult<EntryInfo>> MakeNode(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev);

    /// <summary>mkdir(2).</summary>
    ValueTask<VfsResult<EntryInfo>> MakeDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask);

    /// <summary>unlink(2) of a non-directory.</summary>
    ValueTask<Errno> Unlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name);

    /// <summary>rmdir(2); ENOTEMPTY unless empty.</summary>
    ValueTask<Errno> RemoveDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name);

    /// <summary>rename(2) / renameat2(2) with <paramref name="flags"/>.</summary>
    ValueTask<Errno> Rename(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, RenameFlags flags);

    /// <summary>symlink(2): creates <paramref name="name"/> in <paramref name="parent"/> pointing at <paramref name="target"/>.</summary>
    ValueTask<VfsResult<EntryInfo>> Symlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target);

    /// <summary>link(2): a new name <paramref name="newName"/> in <paramref name="newParent"/> for <paramref name="node"/>.</summary>
    ValueTask<VfsResult<EntryInfo>> Link(RequestContext ctx, ulong node, ulong newParent, ReadOnlyMemory<byte> newName);
}
