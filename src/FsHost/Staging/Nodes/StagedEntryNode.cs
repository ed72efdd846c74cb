using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>
/// Anything inside a staging session: attributes and extended attributes (POSIX ACLs checked
/// and applied as such) change through the session, which journals them.
/// </summary>
public abstract class StagedEntryNode : StagedNode, INodeAttributeSetter, INodeXattrReader, INodeXattrWriter
{
    protected StagedEntryNode(StagingNodes nodes, StagedInode inode) : base(nodes, inode)
    {
        Session = inode.Session ?? throw new ArgumentException("an entry of a session needs its session", nameof(inode));
    }

    protected StagingSession Session { get; }

    public async ValueTask<VfsResult<NodeAttributes>> SetAttributesAsync(RequestContext ctx, SetAttributesRequest request) =>
        await Session.SetAttributesAsync(Inode, request, ctx.SessionEnding).ConfigureAwait(false);

    private ValueTask<List<(byte[] Name, byte[] Value)>> XattrsAsync(RequestContext ctx) => Session.GetXattrsAsync(Inode, ctx.SessionEnding);

    public virtual async ValueTask<VfsResult<int>> GetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Memory<byte> destination)
    {
        var xattrs = await XattrsAsync(ctx).ConfigureAwait(false);
        return XattrReplies.Value(xattrs.FirstOrDefault(x => x.Name.AsSpan().SequenceEqual(name.Span)).Value, destination);
    }

    public async ValueTask<VfsResult<int>> ListXattrAsync(RequestContext ctx, Memory<byte> destination) =>
        XattrReplies.Names(await XattrsAsync(ctx).ConfigureAwait(false), destination);

    public virtual async ValueTask<Errno> SetXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value, XattrSetFlags flags)
    {
        if (IsAcl(name))
        {
            if (PosixAclRules.CheckSettable(Inode, name.Span, value.Span, ctx, out bool empty) is var refused && refused != Errno.Ok) return refused;
            return await Session.SetAclAsync(Inode, name.ToArray(), value.ToArray(), empty, CallerGroups.InGroupOrRoot(ctx, Inode.Gid), ctx.SessionEnding).ConfigureAwait(false);
        }
        return await Session.SetXattrAsync(Inode, name.ToArray(), value.ToArray(), flags, ctx.SessionEnding).ConfigureAwait(false);
    }

    public async ValueTask<Errno> RemoveXattrAsync(RequestContext ctx, ReadOnlyMemory<byte> name)
    {
        if (IsAcl(name)) return await Session.RemoveAclAsync(Inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
        return await Session.RemoveXattrAsync(Inode, name.ToArray(), ctx.SessionEnding).ConfigureAwait(false);
    }

    private static bool IsAcl(ReadOnlyMemory<byte> name) => PosixAclRules.IsAccess(name.Span) || PosixAclRules.IsDefault(name.Span);
}
