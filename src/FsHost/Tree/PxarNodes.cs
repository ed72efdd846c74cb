using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>Makes the node for a pxar entry (hardlinks become their target file, sharing its inode).</summary>
internal static class PxarNodeFactory
{
    public static async ValueTask<TreeNode> CreateAsync(PxarArchive archive, PxarDirNode parent, PxarEntry entry, CancellationToken ct)
    {
        var target = entry;
        if (entry.Kind == PxarEntryKind.Hardlink)
            target = await (await archive.AccessorAsync(ct).ConfigureAwait(false)).FollowHardlinkAsync(entry, ct).ConfigureAwait(false);
        return target.Kind switch
        {
            PxarEntryKind.Directory => new PxarDirNode(archive, parent, target),
            PxarEntryKind.File => new PxarFileNode(archive, parent, entry.Name, target),
            PxarEntryKind.Symlink => new PxarLinkNode(archive, parent, target),
            _ => new PxarSpecialNode(archive, parent, target),
        };
    }

    /// <summary>stat fields from a pxar entry of this archive.</summary>
    public static NodeAttributes Attributes(PxarArchive archive, PxarEntry entry, uint linkCount)
    {
        var mtime = new Timestamp(entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds);
        return new NodeAttributes
        {
            Inode = archive.InodeOf(entry),
            Mode = PxarPosixMetadata.ModeOf(entry),
            LinkCount = linkCount,
            Uid = entry.Stat.Uid,
            Gid = entry.Stat.Gid,
            Size = (ulong)entry.Size,
            Rdev = PxarPosixMetadata.EncodeDevice(entry.DeviceMajor, entry.DeviceMinor),
            ModificationTime = mtime,
            ChangeTime = mtime,
            AccessTime = mtime,
        };
    }

    /// <summary>xattrs as archived, plus security.capability (FCAPS) and POSIX ACLs rebuilt from ACL items.</summary>
    public static async ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> XattrsAsync(PxarArchive archive, PxarEntry entry, CancellationToken ct) =>
        await PxarPosixMetadata.ReadXattrsAsync(await archive.AccessorAsync(ct).ConfigureAwait(false), entry, ct).ConfigureAwait(false);
}

/// <summary>A directory inside a pxar archive (or the archive's root, shown as "root.pxar/").</summary>
public sealed class PxarDirNode : DirectoryNode
{
    private readonly PxarArchive _archive;
    private PxarEntry? _entry;

    public PxarDirNode(PxarArchive archive, DirectoryNode parent, PxarEntry? entry)
        : base(parent, entry?.Name ?? System.Text.Encoding.UTF8.GetBytes(archive.ArchiveName))
    {
        _archive = archive;
        _entry = entry;
    }

    public override ulong StableInode => _entry is null ? StableInodes.Of(_archive.InodeScope) : _archive.InodeOf(_entry);
    public override bool Immutable => true;

    private async ValueTask<PxarEntry> EntryAsync(CancellationToken ct) =>
        _entry ??= (await _archive.AccessorAsync(ct).ConfigureAwait(false)).Root;

    public override async ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct)
    {
        var entry = await EntryAsync(ct).ConfigureAwait(false);
        var attributes = PxarNodeFactory.Attributes(_archive, entry, 2);
        attributes.Inode = StableInode;
        return attributes;
    }

    public override async ValueTask<IReadOnlyList<TreeNode>> ListAsync(CancellationToken ct)
    {
        var listing = await OpenListingAsync(ct).ConfigureAwait(false);
        return (await listing.PageAsync(0, listing.Count, ct).ConfigureAwait(false)).Select(c => (TreeNode)c.Node).ToList();
    }

    /// <summary>Only the goodbye table is read here; entries are decoded page by page as readdir asks.</summary>
    public override async ValueTask<DirectoryListing> OpenListingAsync(CancellationToken ct)
    {
        var accessor = await _archive.AccessorAsync(ct).ConfigureAwait(false);
        var entry = await EntryAsync(ct).ConfigureAwait(false);
        return new Listing(this, accessor, entry, await accessor.CountChildrenAsync(entry, ct).ConfigureAwait(false));
    }

    /// <summary>By the goodbye table's hash search, without listing the directory.</summary>
    public override async ValueTask<Node?> LookupAsync(byte[] name, CancellationToken ct)
    {
        var accessor = await _archive.AccessorAsync(ct).ConfigureAwait(false);
        var found = await accessor.LookupAsync(await EntryAsync(ct).ConfigureAwait(false), name, ct).ConfigureAwait(false);
        if (found is null) return null;
        return Adopt(await PxarNodeFactory.CreateAsync(_archive, this, found, ct).ConfigureAwait(false));
    }

    /// <summary>Pages decode only their own entries; the nodes are throwaway until the kernel is told about one.</summary>
    private sealed class Listing(PxarDirNode dir, PxarAccessor accessor, PxarEntry entry, int count) : DirectoryListing
    {
        public override int Count => count;

        public override async ValueTask<IReadOnlyList<DirectoryChild>> PageAsync(int start, int pageSize, CancellationToken ct)
        {
            var entries = await accessor.ListDirectoryAsync(entry, start, pageSize, ct).ConfigureAwait(false);
            var children = new DirectoryChild[entries.Count];
            for (int i = 0; i < children.Length; i++)
            {
                var node = await PxarNodeFactory.CreateAsync(dir._archive, dir, entries[i], ct).ConfigureAwait(false);
                children[i] = new DirectoryChild(node.Name, node);
            }
            return children;
        }
    }

    public override async ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct) =>
        await PxarNodeFactory.XattrsAsync(_archive, await EntryAsync(ct).ConfigureAwait(false), ct).ConfigureAwait(false);
}

/// <summary>A regular file inside a pxar archive; hardlinked names share the target's inode.</summary>
public sealed class PxarFileNode : FileNode
{
    private readonly PxarArchive _archive;
    private readonly PxarEntry _entry;

    public PxarFileNode(PxarArchive archive, DirectoryNode parent, byte[] name, PxarEntry target) : base(parent, name)
    {
        _archive = archive;
        _entry = target;
    }

    public override ulong StableInode => _archive.InodeOf(_entry);
    public override bool Immutable => true;

    public override async ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        PxarNodeFactory.Attributes(_archive, _entry, await _archive.LinkCountAsync(_entry, ct).ConfigureAwait(false));

    public override async ValueTask<IOpenFile> OpenReaderAsync(CancellationToken ct) =>
        new Handle(await _archive.AccessorAsync(ct).ConfigureAwait(false), _entry);

    public override ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct) =>
        PxarNodeFactory.XattrsAsync(_archive, _entry, ct);

    private sealed class Handle(PxarAccessor accessor, PxarEntry entry) : IOpenFile, IFileReader, IFileSliceReader
    {
        public ValueTask<int> ReadSlicesAsync(long offset, ReadSlices into, CancellationToken ct) =>
            accessor.ReadFileSlicesAsync(entry, offset, into.Capacity - into.Length, into, ct);

        public async ValueTask<int> ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
        {
            if (offset >= entry.Size) return 0;
            int want = (int)Math.Min(destination.Length, entry.Size - offset), total = 0;
            while (total < want)
            {
                int n = await accessor.ReadFileAsync(entry, offset + total, destination[total..want], ct).ConfigureAwait(false);
                if (n == 0) throw new Datastore.Formats.FormatCorruptException("pxar file data ends before its size");
                total += n;
            }
            return total;
        }
        public ValueTask<Errno> ReleaseAsync() => ValueTask.FromResult(Errno.Ok);
    }
}

/// <summary>A symlink inside a pxar archive.</summary>
public sealed class PxarLinkNode : LinkNode
{
    private readonly PxarArchive _archive;
    private readonly PxarEntry _entry;

    public PxarLinkNode(PxarArchive archive, DirectoryNode parent, PxarEntry entry) : base(parent, entry.Name)
    {
        _archive = archive;
        _entry = entry;
    }

    public override ulong StableInode => _archive.InodeOf(_entry);
    public override bool Immutable => true;
    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(PxarNodeFactory.Attributes(_archive, _entry, 1));
    public override ValueTask<byte[]> ReadTargetAsync(CancellationToken ct) => ValueTask.FromResult(_entry.LinkTarget ?? []);
    public override ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct) =>
        PxarNodeFactory.XattrsAsync(_archive, _entry, ct);
}

/// <summary>A fifo, socket or device node inside a pxar archive (stat only; opening is refused).</summary>
public sealed class PxarSpecialNode : TreeNode
{
    private readonly PxarArchive _archive;
    private readonly PxarEntry _entry;

    public PxarSpecialNode(PxarArchive archive, DirectoryNode parent, PxarEntry entry) : base(parent, entry.Name)
    {
        _archive = archive;
        _entry = entry;
    }

    public override ulong StableInode => _archive.InodeOf(_entry);
    public override bool Immutable => true;
    public override ValueTask<NodeAttributes> GetAttributesAsync(CancellationToken ct) =>
        ValueTask.FromResult(PxarNodeFactory.Attributes(_archive, _entry, 1));
    public override ValueTask<IReadOnlyList<(byte[] Name, byte[] Value)>> GetXattrsAsync(CancellationToken ct) =>
        PxarNodeFactory.XattrsAsync(_archive, _entry, ct);
}
