using BackupFs.Datastore.Pxar;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Nodes;

/// <summary>
/// A pxar entry as stat and getxattr show it: shared by the snapshot tree's pxar nodes and by
/// staging sessions, whose untouched entries are still the base snapshot's.
/// </summary>
public static class PxarEntryStat
{
    /// <summary>stat fields from a pxar entry.</summary>
    public static NodeAttributes Attributes(PxarEntry entry, ulong inode, uint linkCount)
    {
        var mtime = new Timestamp(entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds);
        return new NodeAttributes
        {
            Inode = inode,
            Mode = (uint)(entry.Stat.Mode & 0xFFFF),
            LinkCount = linkCount,
            Uid = entry.Stat.Uid,
            Gid = entry.Stat.Gid,
            Size = (ulong)entry.Size,
            Rdev = DeviceNumbers.Encode(entry.DeviceMajor, entry.DeviceMinor),
            ModificationTime = mtime,
            ChangeTime = mtime,
            AccessTime = mtime,
        };
    }

    /// <summary>xattrs as archived, plus security.capability (FCAPS) and POSIX ACLs rebuilt from ACL items.</summary>
    public static async ValueTask<List<(byte[] Name, byte[] Value)>> XattrsAsync(PxarAccessor accessor, PxarEntry entry, CancellationToken ct)
    {
        var meta = await accessor.ReadMetadataAsync(entry, ct).ConfigureAwait(false);
        var list = meta.Xattrs.Select(x => (x.Name, x.Value)).ToList();
        if (meta.Fcaps is { } caps) list.Add(("security.capability"u8.ToArray(), caps));
        if (!meta.Acl.IsEmpty)
        {
            if (PosixAclXattr.BuildAccess(meta.Acl, (uint)(entry.Stat.Mode & 0xFFF)) is { } access)
                list.Add((System.Text.Encoding.ASCII.GetBytes(PosixAclXattr.AccessName), access));
            if (PosixAclXattr.BuildDefault(meta.Acl) is { } dflt)
                list.Add((System.Text.Encoding.ASCII.GetBytes(PosixAclXattr.DefaultName), dflt));
        }
        return list;
    }
}
