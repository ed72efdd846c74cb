using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>A regular file inside a staging session: each open gets its own <see cref="StagedOpenFile"/>.</summary>
public sealed class StagedFileNode(StagingNodes nodes, StagedInode inode) : StagedEntryNode(nodes, inode), INodeOpener
{
    public async ValueTask<VfsResult<OpenedFile>> OpenAsync(RequestContext ctx, int flags)
    {
        var handle = await Session.OpenAsync(Inode, flags, ctx.SessionEnding).ConfigureAwait(false);
        if (!handle.IsOk) return handle.Error;
        var open = new StagedOpenFile(Nodes, handle.Value);
        if (!Session.PassesThrough) return new OpenedFile(open);
        // Passthrough: the kernel reads and writes the spool file itself. Content still in the base
        // snapshot comes through us, uncached, since a cached open would conflict with passthrough
        // opens of the same inode.
        return handle.Value.Spool is { } spool ? new OpenedFile(open) { BackingFile = spool } : new OpenedFile(open, OpenOptions.DirectIo);
    }

    /// <summary>While a writer is open, passthrough writes may have moved the spool file's size and mtime.</summary>
    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct)
    {
        if (Inode.OpenWriters > 0) Session.RefreshFromSpool(Inode);
        return base.GetAttributesAsync(ct);
    }
}
