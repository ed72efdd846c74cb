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
    public async ValueTask ExtractAsync(string targetDirectory, string archivePath = "", CancellationToken ct = default)
    {
        var entry = await _accessor.LookupPathAsync(archivePath, followFinalHardlink: false, ct).ConfigureAwait(false)
            ?? throw new FileNotFoundException($"'{archivePath}' is not in the archive");
        bool targetExisted = Directory.Exists(targetDirectory);
        Directory.CreateDirectory(targetDirectory);
        var target = Posix.PathBytes(Path.GetFullPath(targetDirectory));
        var links = new Dictionary<long, byte[]>();
        if (entry.Kind == PxarEntryKind.Directory)
        {
            await ExtractChildrenAsync(entry, target, links, ct).ConfigureAwait(false);
            // An existing directory is the user's: its owner and mode change only when asked (--overwrite).
            if (!targetExisted || _options.Overwrite) await ApplyMetadataAsync(entry, target, ct).ConfigureAwait(false);
        }
        else
            await ExtractEntryAsync(entry, target, links, ct).ConfigureAwait(false);
    }

    private async ValueTask ExtractChildrenAsync(PxarEntry directory, byte[] dirPath, Dictionary<long, byte[]> links, CancellationToken ct)
    {
        foreach (var child in await _accessor.ListDirectoryAsync(directory, ct).ConfigureAwait(false))
        {
            ct.ThrowIfCancellationRequested();
            await ExtractEntryAsync(child, dirPath, links, ct).ConfigureAwait(false);
        }
    }

    private async ValueTask ExtractEntryAsync(PxarEntry entry, byte[] parent, Dictionary<long, byte[]> links, CancellationToken ct)
    {
        // The accessor already rejects such names; checked again because this is the last line before the file system.
        if (!PxarFormat.IsValidFilename(entry.Name))
            throw new FormatCorruptException($"pxar: refusing to extract the name '{Encoding.UTF8.GetString(entry.Name)}'");
        var path = PxarTreeEncoder.Join(parent, entry.Name);

        if (entry.Kind == PxarEntryKind.Hardlink)
        {
            if (links.TryGetValue(entry.HardlinkTargetIdentity, out var existing))
            {
                PrepareSlot(path, wantDirectory: false);
                Posix.Link(existing, path);
                return;
            }
            // Target outside the extracted subtree: restore the content as a file of its own.
            entry = await _accessor.FollowHardlinkAsync(entry, ct).ConfigureAwait(false);
            await ExtractFileAsync(entry, path, ct).ConfigureAwait(false);
            return;
        }

        switch (entry.Kind)
        {
            case PxarEntryKind.Directory:
                bool existed = PrepareSlot(path, wantDirectory: true);
                if (!existed) Posix.Mkdir(path, 0x1C0 /* 0700 until its children are in */);
                await ExtractChildrenAsync(entry, path, links, ct).ConfigureAwait(false);
                if (!existed || _options.Overwrite) await ApplyMetadataAsync(entry, path, ct).ConfigureAwait(false);
                break;
            case PxarEntryKind.File:
                await ExtractFileAsync(entry, path, ct).ConfigureAwait(false);
                links[entry.Identity] = path;
                break;
            case PxarEntryKind.Symlink:
                PrepareSlot(path, wantDirectory: false);
                Posix.Symlink(entry.LinkTarget!, path);
                if (_options.RestoreOwner) Posix.LChown(path, entry.Stat.Uid, entry.Stat.Gid);
                Posix.SetTimesNoFollow(path, entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds);
                break;
            case PxarEntryKind.BlockDevice or PxarEntryKind.CharDevice:
                if (!_options.RestoreDevices) break;
                PrepareSlot(path, wantDirectory: false);
                Posix.Mknod(path, (uint)entry.Stat.Mode & 0xF000 | 0x180, entry.DeviceMajor, entry.DeviceMinor);
                await ApplyMetadataAsync(entry, path, ct).ConfigureAwait(false);
                break;
            case PxarEntryKind.Fifo:
                PrepareSlot(path, wantDirectory: false);
                Posix.Mkfifo(path, 0x180);
                await ApplyMetadataAsync(entry, path, ct).ConfigureAwait(false);
                break;
            case PxarEntryKind.Socket:
                PrepareSlot(path, wantDirectory: false);
                Posix.Mknod(path, 0xC000 | 0x180, 0, 0);
                await ApplyMetadataAsync(entry, path, ct).ConfigureAwait(false);
                break;
        }
    }

    private async ValueTask ExtractFileAsync(PxarEntry file, byte[] path, CancellationToken ct)
    {
        PrepareSlot(path, wantDirectory: false);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            await using var output = Posix.Open(path, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_EXCL | Posix.O_NOFOLLOW, 0x180, FileAccess.Write);
            for (long offset = 0; offset < file.Size;)
            {
                int n = await _accessor.ReadFileAsync(file, offset, buffer, ct).ConfigureAwait(false);
                await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                offset += n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        await ApplyMetadataAsync(file, path, ct).ConfigureAwait(false);
    }

    /// <summary>Owner, mode, xattrs, ACLs, fcaps, then mtime last (for a path that is not a symlink).</summary>
    private async ValueTask ApplyMetadataAsync(PxarEntry entry, byte[] path, CancellationToken ct)
    {
        var stat = entry.Stat;
        if (_options.RestoreOwner) Posix.LChown(path, stat.Uid, stat.Gid);
        Posix.Chmod(path, stat.Permissions);
        if (_options.RestoreXattrs)
        {
            var meta = await _accessor.ReadMetadataAsync(entry, ct).ConfigureAwait(false);
            foreach (var x in meta.Xattrs) SetXattr(path, x.Name, x.Value);
            if (PosixAclXattr.BuildAccess(meta.Acl, stat.Permissions) is { } access)
                SetXattr(path, Encoding.ASCII.GetBytes(PosixAclXattr.AccessName), access);
            if (entry.Kind == PxarEntryKind.Directory && PosixAclXattr.BuildDefault(meta.Acl) is { } dflt)
                SetXattr(path, Encoding.ASCII.GetBytes(PosixAclXattr.DefaultName), dflt);
            if (meta.Fcaps is { } fcaps) SetXattr(path, "security.capability"u8, fcaps);
        }
        Posix.SetTimesNoFollow(path, stat.MtimeSeconds, stat.MtimeNanoseconds);
    }

    /// <summary>Sets an xattr; a target file system without xattr support (ENOTSUP) is not an error.</summary>
    private static void SetXattr(byte[] path, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        try { Posix.SetXattr(path, name, value); }
        catch (PosixException e) when (e.Errno == Posix.ENOTSUP) { }
    }

    /// <summary>Makes room at <paramref name="path"/>; returns true when an existing real directory may be reused.</summary>
    private bool PrepareSlot(byte[] path, bool wantDirectory)
    {
        var existing = Posix.TryLStat(path);
        if (existing is not { } st) return false;
        if (st.IsDirectory)
        {
            if (wantDirectory) return true;
            throw new IOException($"{Encoding.UTF8.GetString(path)} exists and is a directory");
        }
        if (!_options.Overwrite) throw new IOException($"{Encoding.UTF8.GetString(path)} already exists");
        Posix.Unlink(path);
        return false;
    }
}
