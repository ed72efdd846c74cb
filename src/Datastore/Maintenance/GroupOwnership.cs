using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;

namespace BackupFs.Datastore.Maintenance;

/// <summary>A group's owner (the "owner" file: one Authid line such as "root@pam"), read and changed.</summary>
public static class GroupOwnership
{
    /// <summary>The owner, or null when the group has no owner file.</summary>
    /// <exception cref="BackupFsException">the group does not exist</exception>
    public static string? Get(DataStore store, BackupGroup group)
    {
        RequireGroup(store, group);
        return store.GetOwner(group);
    }

    /// <summary>Replaces the owner (mirrored first, then written atomically).</summary>
    /// <exception cref="InvalidNameException">the owner is not a plausible Authid</exception>
    public static async Task SetAsync(DataStore store, BackupGroup group, string owner, CancellationToken ct = default)
    {
        RequireGroup(store, group);
        CheckAuthId(owner);
        await store.SetOwnerAsync(group, owner, ct).ConfigureAwait(false);
    }

    // PBS Authid: "<user>@<realm>" optionally "!<token>"; no white space, ':' or '/'.
    private static void CheckAuthId(string owner)
    {
        int at = owner.IndexOf('@');
        bool ok = at > 0 && at < owner.Length - 1 && owner.Length <= 256
                  && owner.All(c => c > ' ' && c != ':' && c != '/' && c < 0x7f);
        if (!ok) throw new InvalidNameException($"invalid owner '{owner}' (expected an Authid such as root@pam or user@pbs!token)");
    }

    private static void RequireGroup(DataStore store, BackupGroup group)
    {
        if (!store.GroupExists(group)) throw new BackupFsException($"group {group} does not exist");
    }
}
