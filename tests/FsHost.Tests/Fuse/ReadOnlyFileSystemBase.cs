using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tests.Fuse;

/// <summary>
/// A base for the small read-only trees of the binding's tests (the mount itself serves nodes
/// through the NodeHost): every change answers EROFS, Read answers ENOSYS until overridden, xattrs are absent, flush/fsync and
/// releases succeed, handles are 0. A tree overrides Lookup, GetAttributes, ReadDirectory and
/// what else it serves (Read, ReadLink, Open for caching options, xattrs, statistics).
/// </summary>
public abstract class ReadOnlyFileSystemBase : IFileSystem
{
    /// <summary>The kernel notifier, once <see cref="Initialize"/> ran.</summary>
    public IKernelNotifier? Notifier { get; private set; }

    protected static ValueTask<Errno> Done(Errno e) => ValueTask.FromResult(e);
    protected static ValueTask<VfsResult<T>> Done<T>(VfsResult<T> r) => ValueTask.FromResult(r);

    public virtual void Initialize(IKernelNotifier notifier) => Notifier = notifier;
    public virtual void Destroy() { }

    public abstract ValueTask<VfsResult<EntryInfo>> Lookup(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name);
    public virtual void Forget(ulong node, ulong lookupCount) { }
    public abstract ValueTask<VfsResult<AttributeInfo>> GetAttributes(RequestContext ctx, ulong node, ulong? handle);
    public virtual ValueTask<VfsResult<AttributeInfo>> SetAttributes(RequestContext ctx, ulong node, SetAttributesRequest request) => Done<AttributeInfo>(Errno.EROFS);
    public virtual ValueTask<VfsResult<ReadOnlyMemory<byte>>> ReadLink(RequestContext ctx, ulong node) => Done<ReadOnlyMemory<byte>>(Errno.EINVAL);

    /// <summary>Refuses opens for writing with EROFS; otherwise handle 0 with <see cref="OpenOptions.KeepCache"/>.</summary>
    public virtual ValueTask<VfsResult<OpenInfo>> Open(RequestContext ctx, ulong node, int flags) =>
        (flags & 3) != 0 || (flags & 0x200) != 0 /* O_TRUNC */
            ? Done<OpenInfo>(Errno.EROFS)
            : Done<OpenInfo>(new OpenInfo(0, OpenOptions.KeepCache));

    public virtual ValueTask<VfsResult<int>> Read(RequestContext ctx, ulong node, ulong handle, long offset, Memory<byte> destination) => Done<int>(Errno.ENOSYS);
    public virtual ValueTask<VfsResult<int>> Write(RequestContext ctx, ulong node, ulong handle, long offset, ReadOnlyMemory<byte> data) => Done<int>(Errno.EROFS);
    public virtual ValueTask<Errno> Flush(RequestContext ctx, ulong node, ulong handle) => Done(Errno.Ok);
    public virtual ValueTask<Errno> Fsync(RequestContext ctx, ulong node, ulong handle, bool dataOnly) => Done(Errno.Ok);
    public virtual ValueTask<Errno> Release(RequestContext ctx, ulong node, ulong handle, int flags) => Done(Errno.Ok);

    /// <summary>Handle 0 with <see cref="OpenOptions.CacheDirectory"/>.</summary>
    public virtual ValueTask<VfsResult<OpenInfo>> OpenDirectory(RequestContext ctx, ulong node, int flags) => Done<OpenInfo>(new OpenInfo(0, OpenOptions.CacheDirectory));
    public abstract ValueTask<Errno> ReadDirectory(RequestContext ctx, ulong node, ulong handle, ulong offset, DirectoryEntryWriter writer);
    public virtual ValueTask<Errno> ReleaseDirectory(RequestContext ctx, ulong node, ulong handle) => Done(Errno.Ok);

    public virtual ValueTask<VfsResult<FileSystemStatistics>> GetStatistics(RequestContext ctx, ulong node) => Done<FileSystemStatistics>(new FileSystemStatistics(0, 0, 0, 0, 0));
    public virtual ValueTask<VfsResult<int>> GetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, Memory<byte> destination) => Done<int>(Errno.ENODATA);
    public virtual ValueTask<VfsResult<int>> ListXattr(RequestContext ctx, ulong node, Memory<byte> destination) => Done<int>(0);
    public virtual ValueTask<Errno> SetXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags) => Done(Errno.EROFS);
    public virtual ValueTask<Errno> RemoveXattr(RequestContext ctx, ulong node, ReadOnlyMemory<byte> name) => Done(Errno.EROFS);

    public virtual bool AppliesUmask => false;
    public virtual void KernelKeepsWriteTimes(bool keeps) { }
    public virtual ValueTask<VfsResult<CreateInfo>> Create(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, int flags) => Done<CreateInfo>(Errno.EROFS);
    public virtual ValueTask<VfsResult<EntryInfo>> MakeNode(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask, uint rdev) => Done<EntryInfo>(Errno.EROFS);
    public virtual ValueTask<VfsResult<EntryInfo>> MakeDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, uint mode, uint umask) => Done<EntryInfo>(Errno.EROFS);
    public virtual ValueTask<Errno> Unlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name) => Done(Errno.EROFS);
    public virtual ValueTask<Errno> RemoveDirectory(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name) => Done(Errno.EROFS);
    public virtual ValueTask<Errno> Rename(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ulong newParent, ReadOnlyMemory<byte> newName, RenameFlags flags) => Done(Errno.EROFS);
    public virtual ValueTask<VfsResult<EntryInfo>> Symlink(RequestContext ctx, ulong parent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target) => Done<EntryInfo>(Errno.EROFS);
    public virtual ValueTask<VfsResult<EntryInfo>> Link(RequestContext ctx, ulong node, ulong newParent, ReadOnlyMemory<byte> newName) => Done<EntryInfo>(Errno.EROFS);
}
