using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tests.Nodes;

/// <summary>A node with attributes only: every other capability is missing.</summary>
internal class BareNode(ulong inode, uint mode = FileModes.Regular | 0x1A4) : Node
{
    public int ForgottenCalls;
    public override ulong StableInode => inode;
    public override TimeSpan CacheTimeout => TimeSpan.FromSeconds(7);
    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(new NodeAttributes { Inode = inode, Mode = mode, LinkCount = 1 });
    protected internal override void Forgotten() => ForgottenCalls++;
}

/// <summary>A directory with fixed children that can be looked up and listed, nothing else.</summary>
internal sealed class ListedDir(ulong inode, params (string Name, Node Node)[] children) : BareNode(inode, FileModes.Directory | 0x1ED), INodeLookup, INodeDirectoryOpener
{
    public Exception? Throw;
    public TimeSpan MissTimeout { get; init; } = TimeSpan.FromSeconds(3);

    public ValueTask<VfsResult<Node?>> LookupAsync(RequestContext ctx, ReadOnlyMemory<byte> name)
    {
        if (Throw is { } e) throw e;
        foreach (var (n, node) in children)
            if (System.Text.Encoding.UTF8.GetBytes(n).AsSpan().SequenceEqual(name.Span)) return ValueTask.FromResult(VfsResult<Node?>.Ok(node));
        return ValueTask.FromResult(VfsResult<Node?>.Ok(null));
    }

    public ValueTask<VfsResult<OpenedDirectory>> OpenDirectoryAsync(RequestContext ctx) =>
        ValueTask.FromResult<VfsResult<OpenedDirectory>>(new OpenedDirectory(new Listing(children)));

    private sealed class Listing((string Name, Node Node)[] children) : IOpenDirectory
    {
        public async ValueTask<Errno> ReadAsync(RequestContext ctx, ulong offset, DirectoryFiller entries)
        {
            for (int i = (int)offset; i < children.Length; i++)
            {
                var attributes = await children[i].Node.GetAttributesAsync(ctx.SessionEnding);
                if (!entries.TryAdd(System.Text.Encoding.UTF8.GetBytes(children[i].Name), children[i].Node, attributes, (ulong)i + 1)) break;
            }
            return Errno.Ok;
        }
    }
}

/// <summary>A file whose opens read its bytes; counts opens and releases.</summary>
internal sealed class ContentFile(ulong inode, byte[] content) : BareNode(inode), INodeOpener
{
    public int Opens, Releases;

    public ValueTask<VfsResult<OpenedFile>> OpenAsync(RequestContext ctx, int flags)
    {
        Opens++;
        return ValueTask.FromResult<VfsResult<OpenedFile>>(new OpenedFile(new Reader(this), OpenOptions.KeepCache));
    }

    private sealed class Reader(ContentFile file) : IOpenFile, IFileReader
    {
        public ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
        {
            if (offset >= file.Content.Length) return ValueTask.FromResult(0);
            int n = (int)Math.Min(destination.Length, file.Content.Length - offset);
            file.Content.AsSpan((int)offset, n).CopyTo(destination.Span);
            return ValueTask.FromResult(n);
        }

        public ValueTask<Errno> ReleaseAsync()
        {
            file.Releases++;
            return ValueTask.FromResult(Errno.Ok);
        }
    }

    public byte[] Content => content;
}

/// <summary>A file whose open object can only be released (no reader, no writer).</summary>
internal sealed class OpaqueFile(ulong inode) : BareNode(inode), INodeOpener
{
    public ValueTask<VfsResult<OpenedFile>> OpenAsync(RequestContext ctx, int flags) =>
        ValueTask.FromResult<VfsResult<OpenedFile>>(new OpenedFile(new Opened()));

    private sealed class Opened : IOpenFile
    {
        public ValueTask<Errno> ReleaseAsync() => ValueTask.FromResult(Errno.Ok);
    }
}

/// <summary>A directory that accepts renames (a writable part of a mount).</summary>
internal sealed class RenamingDir(ulong inode) : BareNode(inode, FileModes.Directory | 0x1ED), INodeRenamer
{
    public int Renames;
    public ValueTask<Errno> RenameAsync(RequestContext ctx, ReadOnlyMemory<byte> name, Node newParent, ReadOnlyMemory<byte> newName, RenameFlags flags)
    {
        Renames++;
        return ValueTask.FromResult(Errno.Ok);
    }
}

/// <summary>A readdir reply with room for a fixed number of entries.</summary>
internal sealed class CollectingWriter(bool plus, int room) : DirectoryEntryWriter
{
    public List<(string Name, ulong NodeId, ulong Inode)> Entries { get; } = new();
    /// <summary>The cookie each entry carries (where the next readdir continues after it).</summary>
    public List<ulong> Cookies { get; } = new();
    public override bool IsPlus => plus;
    public override int Count => Entries.Count;

    public override bool TryAdd(ReadOnlySpan<byte> name, ulong inode, uint mode, ulong nextOffset)
    {
        if (Entries.Count >= room) return false;
        Entries.Add((System.Text.Encoding.UTF8.GetString(name), 0, inode));
        Cookies.Add(nextOffset);
        return true;
    }

    public override bool TryAddPlus(ReadOnlySpan<byte> name, in EntryInfo entry, ulong nextOffset)
    {
        if (Entries.Count >= room) return false;
        Entries.Add((System.Text.Encoding.UTF8.GetString(name), entry.NodeId, entry.Attributes.Inode));
        Cookies.Add(nextOffset);
        return true;
    }
}
