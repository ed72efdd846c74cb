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

    /// <summary>Encodes <paramref name="sourceDirectory"/> as the archive root into <paramref name="archive"/> (and the options' payload stream for v2).</summary>
    /// <remarks>
    /// The walk keeps its own stack (no recursion, so tree depth never grows the thread's stack) and
    /// works relative to open directory descriptors, one name at a time: trees deeper than PATH_MAX
    /// are archived, and nothing is reached through a symlink.
    /// </remarks>
    public static async ValueTask EncodeAsync(string sourceDirectory, Stream archive, PxarEncoderOptions? options = null, CancellationToken ct = default)
    {
        var root = Posix.PathBytes(Path.GetFullPath(sourceDirectory).TrimEnd('/') is { Length: > 0 } p ? p : "/");
        var rootStat = Posix.LStat(root);
        if (!rootStat.IsDirectory) throw new ArgumentException($"{sourceDirectory} is not a directory", nameof(sourceDirectory));
        using var chain = new DirectoryChain();
        chain.Push(DirectoryHandle.Open(root));
        var st = chain.Top.Stat(""u8);
        using var encoder = await PxarEncoder.CreateAsync(archive, ToStat(st), ReadMetadata(chain.Top.ProcPath(""u8), st), options, ct).ConfigureAwait(false);
        var links = new Dictionary<(ulong, ulong), (long Offset, byte[] Path)>();
        var frames = new List<Frame> { new(SortedNames(chain.Top)) };
        while (frames.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var frame = frames[^1];
            if (frame.Next == frame.Names.Count)
            {
                frames.RemoveAt(frames.Count - 1);
                if (frames.Count > 0) await encoder.EndDirectoryAsync(ct).ConfigureAwait(false);
                chain.Pop();
                continue;
            }
            var name = frame.Names[frame.Next++];
            var dir = chain.Top;
            var child = dir.Stat(name);
            var stat = ToStat(child);
            switch (stat.Kind)
            {
                case PxarEntryKind.Directory:
                    var sub = dir.OpenDirectory(name);
                    chain.Push(sub);
                    await encoder.BeginDirectoryAsync(name, stat, ReadMetadata(sub.ProcPath(""u8), child), ct).ConfigureAwait(false);
                    frames.Add(new Frame(SortedNames(sub)));
                    break;
                case PxarEntryKind.File:
                    if (child.Nlink > 1 && links.TryGetValue(child.FileId, out var target))
                    {
                        await encoder.AddHardlinkAsync(name, target.Path, target.Offset, ct).ConfigureAwait(false);
                        break;
                    }
                    long offset;
                    await using (var file = dir.OpenFile(name, OpenFlags.ReadOnly, 0, FileAccess.Read))
                        offset = await encoder.AddFileAsync(name, stat, ReadMetadata(dir.ProcPath(name), child), file, child.Size, ct).ConfigureAwait(false);
                    // A hardlink item holds the target's path; one longer than pxar allows is archived as a file of its own.
                    if (child.Nlink > 1 && RelativePath(frames, name) is { } rel) links[child.FileId] = (offset, rel);
                    break;
                case PxarEntryKind.Symlink:
                    await encoder.AddSymlinkAsync(name, stat, ReadMetadata(dir.ProcPath(name), child), dir.ReadLink(name), ct).ConfigureAwait(false);
                    break;
                case PxarEntryKind.BlockDevice or PxarEntryKind.CharDevice:
                    await encoder.AddDeviceAsync(name, stat, ReadMetadata(dir.ProcPath(name), child), child.RdevMajor, child.RdevMinor, ct).ConfigureAwait(false);
                    break;
                case PxarEntryKind.Fifo or PxarEntryKind.Socket:
                    await encoder.AddSpecialAsync(name, stat, ReadMetadata(dir.ProcPath(name), child), ct).ConfigureAwait(false);
                    break;
            }
        }
        await encoder.FinishAsync(ct).ConfigureAwait(false);
    }

    /// <summary>One directory being walked: its sorted names and the next one to archive.</summary>
    private sealed class Frame(List<byte[]> names)
    {
        public readonly List<byte[]> Names = names;
        public int Next;
    }

    private static List<byte[]> SortedNames(DirectoryHandle dir)
    {
        var names = dir.ReadNames();
        names.Sort(static (a, b) => a.AsSpan().SequenceCompareTo(b));
        return names;
    }

    /// <summary>The archive-relative path of <paramref name="name"/> in the deepest frame, or null when longer than a pxar path may be.</summary>
    private static byte[]? RelativePath(List<Frame> frames, byte[] name)
    {
        long length = name.Length;
        for (int i = 1; i < frames.Count; i++) length += frames[i - 1].Names[frames[i - 1].Next - 1].Length + 1;
        if (length > PxarFormat.MaxPathLength) return null;
        var path = new byte[length];
        int at = 0;
        for (int i = 1; i < frames.Count; i++)
        {
            var part = frames[i - 1].Names[frames[i - 1].Next - 1];
            part.CopyTo(path, at);
            at += part.Length;
            path[at++] = (byte)'/';
        }
        name.CopyTo(path, at);
        return path;
    }

    public static PxarStat ToStat(PosixStat st) => new(st.Mode, 0, st.Uid, st.Gid, st.MtimeSeconds, st.MtimeNanoseconds);

    /// <summary>xattrs in llistxattr order (as PBS), security.capability → FCAPS, POSIX ACL xattrs → ACL items.</summary>
    public static PxarMetadata ReadMetadata(byte[] path, PosixStat st)
    {
        if (st.IsSymlink) return new PxarMetadata(); // Linux allows no user xattrs on symlinks; PBS stores none for them
        return PxarPosixMetadata.FromXattrs(ReadXattrs(path), st.IsDirectory);
    }

    private static IEnumerable<(byte[] Name, byte[] Value)> ReadXattrs(byte[] path)
    {
        foreach (var name in Posix.ListXattrs(path))
            if (Posix.GetXattr(path, name) is { } value) yield return (name, value); // null: removed meanwhile
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
