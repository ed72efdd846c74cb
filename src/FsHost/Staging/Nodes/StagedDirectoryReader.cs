using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging.Nodes;

/// <summary>An open staged directory: its entries as listed at opendir (cookies are positions).</summary>
internal sealed class StagedDirectoryReader(StagingNodes nodes, List<(byte[] Name, StagedInode Inode)> listing) : IOpenDirectory
{
    public ValueTask<Errno> ReadAsync(RequestContext ctx, ulong offset, DirectoryFiller entries)
    {
        for (int i = (int)Math.Min(offset, (ulong)listing.Count); i < listing.Count; i++)
        {
            var (name, inode) = listing[i];
            ulong next = (ulong)i + 1;
            bool added = entries.IsPlus
                ? entries.TryAdd(name, nodes.For(inode), inode.Attributes(), next)
                : entries.TryAddName(name, inode.StableInode, inode.Mode, next);
            if (!added) break;
        }
        return ValueTask.FromResult(Errno.Ok);
    }
}
