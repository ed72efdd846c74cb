using System.Buffers;
using System.Text;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Pxar;

/// <summary>Options of <see cref="PxarExtractor"/>.</summary>
public sealed class PxarExtractOptions
{
    /// <summary>chown entries to the archived uid/gid (default: when running as root).</summary>
    public bool RestoreOwner { get; init; } = Environment.IsPrivilegedProcess;
    /// <summary>
    /// Replace existing non-directories at a target path (never followed; unlinked first), and give existing
    /// directories (the target itself included) the archived owner, mode and times. Otherwise an existing
    /// non-directory is an error and an existing directory keeps its own metadata.
    /// </summary>
    public bool Overwrite { get; init; }
    /// <summary>Restore xattrs, ACLs and file capabilities.</summary>
    public bool RestoreXattrs { get; init; } = true;
    /// <summary>Create block/char devices (needs root); when false they are skipped.</summary>
    public bool RestoreDevices { get; init; } = Environment.IsPrivilegedProcess;
}

/// <summary>
/// Restores an archive, a subtree or one entry into a local directory: content, mode, owner, mtime
/// (ns), xattrs/ACLs/fcaps, symlinks, hardlinks, fifos, sockets, devices. Every name is checked (no
/// '/', '.', '..', NUL); directories are created by the extractor itself and checked with lstat, files
/// are created with O_EXCL|O_NOFOLLOW, so nothing is written through a symlink or outside the target.
/// </summary>
public sealed class PxarExtractor
{
    private readonly PxarAccessor _accessor;
    private readonly PxarExtractOptions _options;

    public PxarExtractor(PxarAccessor accessor, PxarExtractOptions? options = null)
    {
        _accessor = accessor;
        _options = options ?? new PxarExtractOptions();
    }

    /// <summary>
    /// Extracts <paramref name="archivePath"/> ("" = the whole archive). A directory's contents go into
    /// <paramref name="targetDirectory"/> (which receives the directory's own metadata); any other entry is
    /// created as targetDirectory/name. The target directory is created if missing.
    /// </summary>
    /// <remarks>
    /// The walk keeps its own stack (archive depth never grows the thread's stack), lists directories
    /// page by page (memory follows the page, not the directory), and creates everything relative to
    /// open directory descriptors, so trees deeper than PATH_MAX restore.
    /// </remarks>
    public async ValueTask ExtractAsync(string targetDirectory, string archivePath = "", CancellationToken ct = default)
    {
        var entry = await _accessor.LookupPathAsync(archivePath, followFinalHardlink: false, ct).ConfigureAwait(false)
            ?? throw new FileNotFoundException($"'{archivePath}' is not in the archive");
        bool targetExisted = Directory.Exists(targetDirectory);
        Directory.CreateDirectory(targetDirectory);
        using var chain = new DirectoryChain();
        chain.Push(DirectoryHandle.Open(Posix.PathBytes(Path.GetFullPath(targetDirectory))));
        // Only files other entries link to are remembered (with their path below the target).
        var linkTargets = await _accessor.CountHardlinksAsync(ct).ConfigureAwait(false);
        var links = new Dictionary<long, byte[][]>();
        if (entry.Kind != PxarEntryKind.Directory)
        {
            await ExtractEntryAsync(chain, entry, () => [entry.Name], linkTargets, links, ct).ConfigureAwait(false);
            return;
        }
        var frames = new List<Frame> { new(entry, "."u8.ToArray(), await _accessor.CountChildrenAsync(entry, ct).ConfigureAwait(false), targetExisted) };
        while (frames.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var frame = frames[^1];
            if (frame.Next == frame.Count)
            {
                frames.RemoveAt(frames.Count - 1);
                if (frames.Count > 0) chain.Pop();
                // An existing directory is the user's: its owner and mode change only when asked (--overwrite).
                if (!frame.Existed || _options.Overwrite) await ApplyMetadataAsync(chain.Top, frame.Name, frame.Directory, ct).ConfigureAwait(false);
                continue;
            }
            var child = await frame.NextChildAsync(_accessor, ct).ConfigureAwait(false);
            CheckName(child);
            if (child.Kind == PxarEntryKind.Directory)
            {
                var dir = chain.Top;
                bool existed = PrepareSlot(dir, child.Name, wantDirectory: true);
                if (!existed) dir.MakeDirectory(child.Name, 0x1C0 /* 0700 until its children are in */);
                chain.Push(dir.OpenDirectory(child.Name));
                frames.Add(new Frame(child, child.Name, await _accessor.CountChildrenAsync(child, ct).ConfigureAwait(false), existed));
            }
            else
                await ExtractEntryAsync(chain, child, () => RelativePath(frames, child.Name), linkTargets, links, ct).ConfigureAwait(false);
        }
    }

    /// <summary>A directory being extracted: its children are read a page at a time.</summary>
    private sealed class Frame(PxarEntry directory, byte[] name, int count, bool existed)
    {
        /// <summary>The directory was there before the restore (its metadata stays unless --overwrite).</summary>
        public readonly bool Existed = existed;
        private const int PageSize = 256;
        public readonly PxarEntry Directory = directory;
        public readonly byte[] Name = name;
        public readonly int Count = count;
        public int Next;
        private IReadOnlyList<PxarEntry> _page = [];
        private int _pageStart;

        public async ValueTask<PxarEntry> NextChildAsync(PxarAccessor accessor, CancellationToken ct)
        {
            if (Next - _pageStart >= _page.Count)
            {
                _pageStart = Next;
                _page = await accessor.ListDirectoryAsync(Directory, Next, PageSize, ct).ConfigureAwait(false);
                if (_page.Count == 0) throw new FormatCorruptException($"pxar: directory {Directory} lists fewer children than its goodbye table holds");
            }
            return _page[Next++ - _pageStart];
        }
    }

    private static byte[][] RelativePath(List<Frame> frames, byte[] name)
    {
        var parts = new byte[frames.Count][];
        for (int i = 1; i < frames.Count; i++) parts[i - 1] = frames[i].Name;
        parts[^1] = name;
        return parts;
    }

    private static void CheckName(PxarEntry entry)
    {
        // The accessor already rejects such names; checked again because this is the last line before the file system.
        if (!PxarFormat.IsValidFilename(entry.Name))
            throw new FormatCorruptException($"pxar: refusing to extract the name '{Encoding.UTF8.GetString(entry.Name)}'");
    }

    /// <summary>Creates a non-directory entry in the chain's deepest directory.</summary>
    private async ValueTask ExtractEntryAsync(DirectoryChain chain, PxarEntry entry, Func<byte[][]> path,
        Dictionary<long, int> linkTargets, Dictionary<long, byte[][]> links, CancellationToken ct)
    {
        CheckName(entry);
        var dir = chain.Top;
        var name = entry.Name;
        if (entry.Kind == PxarEntryKind.Hardlink)
        {
            if (links.TryGetValue(entry.HardlinkTargetIdentity, out var existing))
            {
                PrepareSlot(dir, name, wantDirectory: false);
                LinkFrom(chain.Root, existing, dir, name);
                return;
            }
            // Target outside the extracted subtree: restore the content as a file of its own.
            entry = await _accessor.FollowHardlinkAsync(entry, ct).ConfigureAwait(false);
            await ExtractFileAsync(dir, name, entry, ct).ConfigureAwait(false);
            return;
        }

        switch (entry.Kind)
        {
            case PxarEntryKind.Directory: // a directory given as the extraction path's own entry is handled by the caller
                throw new InvalidOperationException("directories are extracted by the walk");
            case PxarEntryKind.File:
                await ExtractFileAsync(dir, name, entry, ct).ConfigureAwait(false);
                if (linkTargets.ContainsKey(entry.Identity)) links[entry.Identity] = path();
                break;
            case PxarEntryKind.Symlink:
                PrepareSlot(dir, name, wantDirectory: false);
                dir.Symlink(entry.LinkTarget!, name);
                if (_options.RestoreOwner) dir.Chown(name, entry.Stat.Uid, entry.Stat.Gid);
                dir.SetTimes(name, entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds);
                break;
            case PxarEntryKind.BlockDevice or PxarEntryKind.CharDevice:
                if (!_options.RestoreDevices) break;
                PrepareSlot(dir, name, wantDirectory: false);
                dir.MakeNode(name, (uint)entry.Stat.FileType | 0x180, entry.DeviceMajor, entry.DeviceMinor);
                await ApplyMetadataAsync(dir, name, entry, ct).ConfigureAwait(false);
                break;
            case PxarEntryKind.Fifo:
                PrepareSlot(dir, name, wantDirectory: false);
                dir.MakeNode(name, FileTypeBits.Fifo | 0x180, 0, 0);
                await ApplyMetadataAsync(dir, name, entry, ct).ConfigureAwait(false);
                break;
            case PxarEntryKind.Socket:
                PrepareSlot(dir, name, wantDirectory: false);
                dir.MakeNode(name, FileTypeBits.Socket | 0x180, 0, 0);
                await ApplyMetadataAsync(dir, name, entry, ct).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Hardlinks the file at <paramref name="targetPath"/> (below the root) as <paramref name="name"/> in <paramref name="dir"/>, walking one name at a time.</summary>
    private static void LinkFrom(DirectoryHandle root, byte[][] targetPath, DirectoryHandle dir, byte[] name)
    {
        DirectoryHandle? at = null;
        try
        {
            for (int i = 0; i < targetPath.Length - 1; i++)
            {
                var next = (at ?? root).OpenDirectory(targetPath[i]);
                at?.Dispose();
                at = next;
            }
            dir.Link(at ?? root, targetPath[^1], name);
        }
        finally { at?.Dispose(); }
    }

    private async ValueTask ExtractFileAsync(DirectoryHandle dir, byte[] name, PxarEntry file, CancellationToken ct)
    {
        PrepareSlot(dir, name, wantDirectory: false);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            await using var output = dir.OpenFile(name, OpenFlags.WriteOnly | OpenFlags.Create | OpenFlags.Exclusive, 0x180, FileAccess.Write);
            for (long offset = 0; offset < file.Size;)
            {
                int n = await _accessor.ReadFileAsync(file, offset, buffer, ct).ConfigureAwait(false);
                await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                offset += n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        await ApplyMetadataAsync(dir, name, file, ct).ConfigureAwait(false);
    }

    /// <summary>Owner, mode, xattrs, ACLs, fcaps, then mtime last (for a name that is not a symlink; "." = the directory itself).</summary>
    private async ValueTask ApplyMetadataAsync(DirectoryHandle dir, byte[] name, PxarEntry entry, CancellationToken ct)
    {
        var stat = entry.Stat;
        if (_options.RestoreOwner) dir.Chown(name, stat.Uid, stat.Gid);
        dir.Chmod(name, stat.Permissions);
        if (_options.RestoreXattrs)
        {
            var meta = await _accessor.ReadMetadataAsync(entry, ct).ConfigureAwait(false);
            var path = dir.ProcPath(name);
            foreach (var x in meta.Xattrs) SetXattr(path, x.Name, x.Value);
            if (PosixAclXattr.BuildAccess(meta.Acl, stat.Permissions) is { } access)
                SetXattr(path, Encoding.ASCII.GetBytes(PosixAclXattr.AccessName), access);
            if (entry.Kind == PxarEntryKind.Directory && PosixAclXattr.BuildDefault(meta.Acl) is { } dflt)
                SetXattr(path, Encoding.ASCII.GetBytes(PosixAclXattr.DefaultName), dflt);
            if (meta.Fcaps is { } fcaps) SetXattr(path, "security.capability"u8, fcaps);
        }
        dir.SetTimes(name, stat.MtimeSeconds, stat.MtimeNanoseconds);
    }

    /// <summary>Sets an xattr; a target file system without xattr support (ENOTSUP) is not an error.</summary>
    private static void SetXattr(byte[] path, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        try { Posix.SetXattr(path, name, value); }
        catch (PosixException e) when (e.Errno == Errno.ENOTSUP) { }
    }

    /// <summary>Makes room for <paramref name="name"/> in <paramref name="dir"/>; returns true when an existing real directory may be reused.</summary>
    private bool PrepareSlot(DirectoryHandle dir, byte[] name, bool wantDirectory)
    {
        var existing = dir.TryStat(name);
        if (existing is not { } st) return false;
        if (st.IsDirectory)
        {
            if (wantDirectory) return true;
            throw new IOException($"{Encoding.UTF8.GetString(name)} exists and is a directory");
        }
        if (!_options.Overwrite) throw new IOException($"{Encoding.UTF8.GetString(name)} already exists");
        dir.DeleteFile(name);
        return false;
    }
}
