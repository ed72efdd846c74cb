using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Staging;

/// <summary>
/// A session's journal: started on the first change (a session nobody changed leaves no trace on
/// disk), numbers of base inodes bound before a record names them (Bind records, parents first),
/// epochs (a new journal forgets the old bindings), and replay of the records through the
/// session tree's apply methods. Called under the session gate.
/// </summary>
internal sealed class SessionJournal(string stateDirectory, SessionSpool spool)
{
    private StagingJournal? _file;

    /// <summary>Bumped for every new journal file: inodes bound in an older one are bound again.</summary>
    public long Epoch { get; private set; }
    public long Records => _file?.Records ?? 0;
    public bool Started => _file is not null;
    /// <summary>Called on every appended change (the session's idle clock).</summary>
    public Action? Changed { get; init; }

    /// <summary>The backup time of the base the next new journal names (null: an empty start).</summary>
    public long? BaseTime { get; set; }

    /// <summary>The open journal, started now if it was not.</summary>
    public StagingJournal File()
    {
        if (_file is { } j) return j;
        StagingFiles.CreateDirectory(spool.Directory);
        _file = StagingJournal.Create(stateDirectory, BaseTime);
        Epoch++;
        return _file;
    }

    /// <summary>Continues an existing journal (after <see cref="StagingJournal.Open"/>).</summary>
    public void Resume(StagingJournal journal)
    {
        _file = journal;
        Epoch = 1;
    }

    /// <summary>A new empty journal on a new base (after a commit).</summary>
    public void Restart(long? baseTime)
    {
        _file?.Dispose();
        BaseTime = baseTime;
        _file = StagingJournal.Create(stateDirectory, baseTime);
        Epoch++;
    }

    public void Close()
    {
        _file?.Dispose();
        _file = null;
    }

    public void Flush() => _file?.Flush();

    public void Append(JournalRecord record)
    {
        File().Append(record);
        Changed?.Invoke();
    }

    /// <summary>Records that the snapshot of <paramref name="snapshotTime"/> holds every change so far (not a change itself: the idle clock does not move).</summary>
    public void MarkCommitted(long snapshotTime, long now) =>
        _file?.Append(new JournalRecord { Op = JournalOp.Committed, Time = now, Number = (ulong)snapshotTime + 1 });

    /// <summary>The snapshot a journal ending with a <see cref="JournalOp.Committed"/> record names (null: it does not end so).</summary>
    public static long? CommittedAtEnd(List<JournalRecord> records) =>
        records.Count > 0 && records[^1] is { Op: JournalOp.Committed, Number: > 0 } r ? (long)(r.Number - 1) : null;

    /// <summary>
    /// The journal number of <paramref name="inode"/>, recording first where a base inode sits
    /// (a Bind record, parents first) so replay can find it. False for an inode with no name left.
    /// </summary>
    public bool TryBind(StagedInode inode, long now, out ulong number)
    {
        var journal = File();
        number = inode.Number;
        // Climb to the nearest inode already bound (or the session root), then record the ones
        // below it parents first; a loop, not recursion: the depth is the tree's.
        var chain = new List<StagedInode>();
        for (var at = inode; at.Role != StagedRole.SessionRoot && at.BoundEpoch != Epoch;)
        {
            if (at.FirstLink is not { } link) return false;
            chain.Add(at);
            at = link.Parent;
        }
        for (int i = chain.Count - 1; i >= 0; i--)
        {
            var at = chain[i];
            var link = at.FirstLink!.Value;
            journal.Append(new JournalRecord { Op = JournalOp.Bind, Time = now, Number = at.Number, Parent = link.Parent.Number, Name = link.Name });
            at.BoundEpoch = Epoch;
        }
        return true;
    }

    /// <summary>Appends a record about <paramref name="inode"/> when it still has a name (a nameless one needs no record: nothing replays to it).</summary>
    public void AppendFor(StagedInode inode, long now, Func<ulong, JournalRecord> record)
    {
        if (TryBind(inode, now, out var number)) Append(record(number));
    }

    // ---- replay ----

    /// <summary>Applies journaled records over the base, as they were applied live.</summary>
    public async Task ReplayAsync(SessionTree tree, List<JournalRecord> records, CancellationToken ct)
    {
        var byNumber = new Dictionary<ulong, StagedInode> { [SessionTree.RootNumber] = tree.Root };
        ulong max = SessionTree.RootNumber;
        foreach (var r in records) if (r.Op != JournalOp.Committed) max = Math.Max(max, r.Number); // its number is a snapshot's time
        tree.NextNumber = max + 1;
        StagedInode Get(ulong number, JournalRecord r) => byNumber.TryGetValue(number, out var i) ? i
            : throw new InvalidDataException($"journal record {r.Op} names inode {number}, which no earlier record made");
        async ValueTask<StagedInode> DirectoryAsync(ulong number, JournalRecord r)
        {
            var dir = Get(number, r);
            if (!dir.IsDirectory) throw new InvalidDataException($"journal record {r.Op} names inode {number} as a directory");
            await tree.ChildrenAsync(dir, ct).ConfigureAwait(false);
            return dir;
        }
        async ValueTask<StagedInode> ChildAsync(StagedInode dir, byte[] name, JournalRecord r) =>
            await tree.ChildAsync(dir, name, ct).ConfigureAwait(false)
            ?? throw new InvalidDataException($"journal record {r.Op} names '{System.Text.Encoding.UTF8.GetString(name)}', which does not exist at that point");
        void Orphaned(StagedInode? inode)
        {
            if (inode?.SpoolPath is { } path && inode.OpenHandles == 0) { spool.Drop(path); inode.SpoolPath = null; }
        }

        foreach (var r in records)
        {
            var now = Timestamps.FromNanoseconds(r.Time);
            switch (r.Op)
            {
                case JournalOp.Bind:
                {
                    var child = await ChildAsync(await DirectoryAsync(r.Parent, r).ConfigureAwait(false), r.Name, r).ConfigureAwait(false);
                    child.Number = r.Number;
                    child.BoundEpoch = Epoch;
                    byNumber[r.Number] = child;
                    break;
                }
                case JournalOp.MakeDirectory:
                    byNumber[r.Number] = tree.ApplyMakeDirectory(await DirectoryAsync(r.Parent, r).ConfigureAwait(false), r.Name, r.Number, r.Mode, r.Uid, r.Gid, now, Epoch);
                    break;
                case JournalOp.Create:
                {
                    var path = spool.PathFor(r.Number);
                    var inode = tree.ApplyCreate(await DirectoryAsync(r.Parent, r).ConfigureAwait(false), r.Name, r.Number, r.Mode, r.Uid, r.Gid, path, now, Epoch);
                    SessionSpool.CreateIfFree(path); // made again if lost; whatever is there (even a link) is left as it is
                    byNumber[r.Number] = inode;
                    break;
                }
                case JournalOp.MakeNode:
                    byNumber[r.Number] = tree.ApplyMakeSpecial(await DirectoryAsync(r.Parent, r).ConfigureAwait(false), r.Name, r.Number, r.Mode, r.DeviceMajor, r.DeviceMinor, r.Uid, r.Gid, now, Epoch);
                    break;
                case JournalOp.Symlink:
                    byNumber[r.Number] = tree.ApplySymlink(await DirectoryAsync(r.Parent, r).ConfigureAwait(false), r.Name, r.Number, r.Target, r.Uid, r.Gid, now, Epoch);
                    break;
                case JournalOp.Link:
                    SessionTree.ApplyLink(Get(r.Number, r), await DirectoryAsync(r.Parent, r).ConfigureAwait(false), r.Name, now);
                    break;
                case JournalOp.Unlink:
                case JournalOp.RemoveDirectory:
                {
                    var dir = await DirectoryAsync(r.Parent, r).ConfigureAwait(false);
                    await ChildAsync(dir, r.Name, r).ConfigureAwait(false);
                    Orphaned(SessionTree.ApplyRemove(dir, r.Name, now));
                    break;
                }
                case JournalOp.Rename:
                {
                    var dir = await DirectoryAsync(r.Parent, r).ConfigureAwait(false);
                    await ChildAsync(dir, r.Name, r).ConfigureAwait(false);
                    var newDir = await DirectoryAsync(r.NewParent, r).ConfigureAwait(false);
                    Orphaned(SessionTree.ApplyRename(dir, r.Name, newDir, r.NewName, (RenameFlags)r.Flags, now));
                    break;
                }
                case JournalOp.SetAttributes:
                    SessionTree.ApplySetAttributes(Get(r.Number, r), (SetAttributeFields)r.Fields, r.Mode, r.Uid, r.Gid,
                        Timestamps.FromNanoseconds(r.AccessTime), Timestamps.FromNanoseconds(r.ModificationTime), now);
                    break;
                case JournalOp.Spool:
                {
                    var inode = Get(r.Number, r);
                    var path = spool.PathFor(r.Number, r.Flags);
                    if (!System.IO.File.Exists(path)) throw new InvalidDataException($"spool file {path} is missing");
                    spool.SawGeneration(r.Flags);
                    inode.SpoolPath = path;
                    break;
                }
                case JournalOp.SetXattr:
                    await tree.ApplySetXattrAsync(Get(r.Number, r), r.Name, r.Value, now, ct).ConfigureAwait(false);
                    break;
                case JournalOp.RemoveXattr:
                    await tree.ApplyRemoveXattrAsync(Get(r.Number, r), r.Name, now, ct).ConfigureAwait(false);
                    break;
                case JournalOp.Touch:
                    Get(r.Number, r).Touch(Timestamps.FromNanoseconds(r.ModificationTime));
                    break;
                case JournalOp.Committed:
                    break; // changes followed it: everything is replayed over the base and committed again
                default:
                    throw new InvalidDataException($"unexpected journal record {r.Op}");
            }
        }
        // The spool files are the truth for sizes: writes are not journaled one by one.
        foreach (var inode in byNumber.Values)
            if (inode.SpoolPath is { } path && System.IO.File.Exists(path)) inode.Size = new FileInfo(path).Length;
    }
}

/// <summary>Journal times: nanoseconds since the epoch.</summary>
internal static class Timestamps
{
    public static long Nanoseconds(Timestamp t) => t.Seconds * 1_000_000_000L + t.Nanoseconds;

    public static Timestamp FromNanoseconds(long ns) =>
        new(Math.DivRem(ns, 1_000_000_000L, out long rest) - (rest < 0 ? 1 : 0), (uint)(rest < 0 ? rest + 1_000_000_000L : rest));
}
