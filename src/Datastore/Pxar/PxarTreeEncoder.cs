using System.Text;
using BackupFs.Datastore.Platform;

namespace BackupFs.Datastore.Pxar;

/// <summary>
/// Archives a local directory tree with lstat semantics (symlinks are stored, never followed):
/// regular files, directories, symlinks, fifos, sockets, devices, hardlinks by (dev, ino), xattrs,
/// security.capability as FCAPS and POSIX ACL xattrs as ACL items. Children are sorted by raw name bytes.
/// </summary>
public static class PxarTreeEncoder
{
    private static readonly byte[] CapabilityName = "security.capability"u8.ToArray();
    private static readonly byte[] AclAccessName = Encoding.ASCII.GetBytes(PosixAclXattr.AccessName);
    private static readonly byte[] AclDefaultName = Encoding.ASCII.GetBytes(PosixAclXattr.DefaultName);

    /// <summary>Encodes <paramref name="sourceDirectory"/> as the archive root into <paramref name="archive"/> (and the options' payload stream for v2).</summary>
    public static async ValueTask EncodeAsync(string sourceDirectory, Stream archive, PxarEncoderOptions? options = null, CancellationToken ct = default)
    {
        var root = Posix.PathBytes(Path.GetFullPath(sourceDirectory).TrimEnd('/') is { Length: > 0 } p ? p : "/");
        var st = Posix.LStat(root);
        if (!st.IsDirectory) throw new ArgumentException($"{sourceDirectory} is not a directory", nameof(sourceDirectory));
        using var encoder = await PxarEncoder.CreateAsync(archive, ToStat(st), ReadMetadata(root, st), options, ct).ConfigureAwait(false);
        var links = new Dictionary<(ulong, ulong), (long Offset, byte[] Path)>();
        await EncodeChildrenAsync(encoder, root, [], links, ct).ConfigureAwait(false);
        await encoder.FinishAsync(ct).ConfigureAwait(false);
    }

    private static async ValueTask EncodeChildrenAsync(PxarEncoder encoder, byte[] dir, byte[] relDir,
        Dictionary<(ulong, ulong), (long Offset, byte[] Path)> links, CancellationToken ct)
    {
        var names = Posix.ReadDirectory(dir);
        names.Sort(static (a, b) => a.AsSpan().SequenceCompareTo(b));
        foreach (var name in names)
        {
            ct.ThrowIfCancellationRequested();
            var path = Join(dir, name);
            var rel = relDir.Length == 0 ? name : Join(relDir, name);
            var st = Posix.LStat(path);
            var stat = ToStat(st);
            switch (stat.Kind)
            {
                case PxarEntryKind.Directory:
                    await encoder.BeginDirectoryAsync(name, stat, ReadMetadata(path, st), ct).ConfigureAwait(false);
                    await EncodeChildrenAsync(encoder, path, rel, links, ct).ConfigureAwait(false);
                    await encoder.EndDirectoryAsync(ct).ConfigureAwait(false);
                    break;
                case PxarEntryKind.File:
                    if (st.Nlink > 1 && links.TryGetValue(st.FileId, out var target))
                    {
                        await encoder.AddHardlinkAsync(name, target.Path, target.Offset, ct).ConfigureAwait(false);
                        break;
                    }
                    long offset;
                    await using (var file = Posix.Open(path, Posix.O_RDONLY | Posix.O_NOFOLLOW, 0, FileAccess.Read))
                        offset = await encoder.AddFileAsync(name, stat, ReadMetadata(path, st), file, st.Size, ct).ConfigureAwait(false);
                    if (st.Nlink > 1) links[st.FileId] = (offset, rel);
                    break;
                case PxarEntryKind.Symlink:
                    await encoder.AddSymlinkAsync(name, stat, ReadMetadata(path, st), Posix.ReadLink(path), ct).ConfigureAwait(false);
                    break;
                case PxarEntryKind.BlockDevice or PxarEntryKind.CharDevice:
                    await encoder.AddDeviceAsync(name, stat, ReadMetadata(path, st), st.RdevMajor, st.RdevMinor, ct).ConfigureAwait(false);
                    break;
                case PxarEntryKind.Fifo or PxarEntryKind.Socket:
                    await encoder.AddSpecialAsync(name, stat, ReadMetadata(path, st), ct).ConfigureAwait(false);
                    break;
            }
        }
    }

    public static PxarStat ToStat(PosixStat st) => new(st.Mode, 0, st.Uid, st.Gid, st.MtimeSeconds, st.MtimeNanoseconds);

    /// <summary>xattrs in llistxattr order (as PBS), security.capability → FCAPS, POSIX ACL xattrs → ACL items.</summary>
    public static PxarMetadata ReadMetadata(byte[] path, PosixStat st)
    {
        var meta = new PxarMetadata();
        if (st.IsSymlink) return meta; // Linux allows no user xattrs on symlinks; PBS stores none for them
        foreach (var name in Posix.ListXattrs(path))
        {
            var value = Posix.GetXattr(path, name);
            if (value == null) continue; // removed meanwhile
            if (name.AsSpan().SequenceEqual(CapabilityName)) meta.Fcaps = value;
            else if (name.AsSpan().SequenceEqual(AclAccessName)) PosixAclXattr.ParseAccess(value, meta.Acl);
            else if (name.AsSpan().SequenceEqual(AclDefaultName)) { if (st.IsDirectory) PosixAclXattr.ParseDefault(value, meta.Acl); }
            else if (IsArchivedXattr(name)) meta.Xattrs.Add(new PxarXattr(name, value));
        }
        return meta;
    }

    /// <summary>Like the PBS client: user.*, trusted.* and security.NTACL (Samba); other namespaces are host-specific.</summary>
    public static bool IsArchivedXattr(ReadOnlySpan<byte> name) =>
        name.Length is > 0 and <= 255
        && (name.StartsWith("user."u8) || name.StartsWith("trusted."u8) || name.SequenceEqual("security.NTACL"u8));

    internal static byte[] Join(byte[] dir, ReadOnlySpan<byte> name)
    {
        var b = new byte[dir.Length + 1 + name.Length];
        dir.CopyTo(b, 0);
        b[dir.Length] = (byte)'/';
        name.CopyTo(b.AsSpan(dir.Length + 1));
        return b;
    }
}
