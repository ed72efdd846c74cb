using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>An open tree directory: readdir pages through the listing fixed at opendir.</summary>
internal sealed class TreeDirectoryReader(DirectoryListing listing, ErrnoMapper errors) : IOpenDirectory
{
    public async ValueTask<Errno> ReadAsync(RequestContext ctx, ulong offset, DirectoryFiller entries)
    {
        int i = (int)Math.Min(offset, (ulong)listing.Count), pageSize = 64;
        while (i < listing.Count)
        {
            // Pages grow while the reply has room: few wasted decodes for the entries that do not fit.
            var page = await listing.PageAsync(i, pageSize, ctx.SessionEnding).ConfigureAwait(false);
            if (page.Count == 0) break;
            pageSize = Math.Min(pageSize * 2, 1024);
            foreach (var listed in page)
            {
                if (!await TryAddAsync(entries, listed, (ulong)i + 1, ctx.SessionEnding).ConfigureAwait(false)) return Errno.Ok;
                i++;
            }
        }
        return Errno.Ok;
    }

    /// <summary>Writes one entry; false when the reply is full.</summary>
    private async ValueTask<bool> TryAddAsync(DirectoryFiller entries, DirectoryChild child, ulong next, CancellationToken ct)
    {
        NodeAttributes attributes;
        try { attributes = await child.Node.GetAttributesAsync(ct).ConfigureAwait(false); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An unreadable entry (a malformed archive) is still listed; stat on it gives the error.
            errors.Map("stat", e);
            uint mode = child.Node is INodeDirectoryOpener ? FileModes.Directory : child.Node is INodeLinkReader ? FileModes.Symlink : FileModes.Regular;
            return entries.TryAddName(child.Name, child.Node.StableInode, mode, next);
        }
        // The kernel will hold a readdirplus entry: use the directory's node for it, so a later lookup finds the same one.
        var node = entries.IsPlus && child.Node is TreeNode { Parent: { } parent } listed ? parent.Adopt(listed) : child.Node;
        return entries.TryAdd(child.Name, node, attributes, next);
    }
}
