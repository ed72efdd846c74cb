using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Pxar;

namespace BackupFs.Datastore.Writing;

/// <summary>The previous snapshot's split archive, the reference for payload reuse.</summary>
/// <param name="Metadata">accessor over the previous .mpxar (and .ppxar, unused for reuse)</param>
/// <param name="PayloadIndex">the previous .ppxar.didx index</param>
public sealed record PreviousSplitArchive(PxarAccessor Metadata, DynamicIndex PayloadIndex);

/// <summary>What a split backup did (for tests and progress output).</summary>
public sealed class SplitBackupStats
{
    public long ReusedFiles { get; internal set; }
    public long ReusedChunks { get; internal set; }
    public long ReusedBytes { get; internal set; }
    public long EncodedFiles { get; internal set; }
    public long EncodedBytes { get; internal set; }
    /// <summary>Files whose payload was cut and stored ahead (<see cref="PreparedPayload"/>) and appended by digest.</summary>
    public long PreparedFiles { get; internal set; }
    public long PreparedBytes { get; internal set; }
}

/// <summary>
/// Backs up a directory tree as a split pxar archive (&lt;name&gt;.mpxar.didx + &lt;name&gt;.ppxar.didx), as PBS's
/// metadata change-detection mode writes it: a regular file whose size, mtime, mode, uid and gid equal
/// those of the same path in the previous snapshot is not read; the previous payload chunks holding its
/// PAYLOAD item are appended to the new payload index by digest and the new PAYLOAD_REF points into them.
/// </summary>
/// <remarks>
/// Reuse is decided per file (PBS compares the file's whole metadata and size; xattrs and ACLs are
/// rewritten in the new metadata stream anyway, so stat + size decide here). Consecutive reusable files
/// whose chunk ranges touch share the injected chunks: a file starting in the chunk injected last is
/// covered by appending only the chunks after it. When new data was written in between, the shared chunk
/// is injected again; its unreferenced bytes are padding, as PBS accepts (it bounds padding with a
/// heuristic; here the bound is the one chunk per run boundary).
/// </remarks>
public static class SplitArchiveBackup
{
    /// <param name="archiveName">e.g. "root" → root.mpxar.didx and root.ppxar.didx</param>
    /// <param name="openFile">opens a file's content (tests count reads through it); default opens the local file</param>
    public static Task<SplitBackupStats> WriteAsync(SnapshotWriter writer, string archiveName, string sourceDirectory,
        PreviousSplitArchive? previous = null, Func<byte[], Stream>? openFile = null, CancellationToken ct = default) =>
        WriteAsync(writer, archiveName, new LocalTreeSource(sourceDirectory, openFile), previous, ct);

    /// <summary>Writes <paramref name="source"/> as the split pair; the caller finishes the snapshot (manifest).</summary>
    public static async Task<SplitBackupStats> WriteAsync(SnapshotWriter writer, string archiveName, ISnapshotTreeSource source,
        PreviousSplitArchive? previous, CancellationToken ct = default)
    {
        var meta = writer.CreateDynamicArchive(archiveName + ".mpxar.didx");
        var payload = writer.CreatePayloadArchive(archiveName + ".ppxar.didx");
        var options = new PxarEncoderOptions { PayloadOutput = payload, BeforeFilePayload = payload.SuggestBoundary };
        var state = new State(payload, previous, source);
        var root = source.Root;
        using (var encoder = await PxarEncoder.CreateAsync(meta, root.Stat, root.Metadata, options, ct).ConfigureAwait(false))
        {
            state.Encoder = encoder;
            await EncodeChildrenAsync(state, root, [], previous?.Metadata.Root, ct).ConfigureAwait(false);
            state.CatchUpEncoder();
            await encoder.FinishAsync(ct).ConfigureAwait(false);
        }
        await writer.CloseArchiveAsync(meta).ConfigureAwait(false);
        await writer.CloseArchiveAsync(payload).ConfigureAwait(false);
        return state.Stats;
    }

    private sealed class State(PayloadArchiveWriter payload, PreviousSplitArchive? previous, ISnapshotTreeSource source)
    {
        public PxarEncoder Encoder = null!;
        public readonly PayloadArchiveWriter Payload = payload;
        public readonly PreviousSplitArchive? Previous = previous;
        public readonly ISnapshotTreeSource Source = source;
        public readonly Dictionary<object, (long Offset, byte[] Path)> Links = new();
        public readonly SplitBackupStats Stats = new();
        // The run of previous chunks injected last: old chunk range, and where it starts in the new stream.
        public DynamicIndex? RunIndex;
        public int RunFirstChunk = -1, RunLastChunk = -1;
        public long RunNewStart, RunNewEnd;
        // Injected bytes not yet counted by the encoder: it only accepts references at or after its
        // payload position, so the position moves past a run only when something else is written.
        public long PendingAdvance;

        public void CatchUpEncoder()
        {
            Encoder.AdvancePayloadPosition(PendingAdvance);
            PendingAdvance = 0;
        }
    }

    /// <summary>One directory being written: its children sorted by name, and the previous snapshot's same directory.</summary>
    private sealed class Frame(SourceNode[] children, PxarEntry? previousDir)
    {
        public readonly SourceNode[] Children = children;
        public readonly PxarEntry? PreviousDir = previousDir;
        public int Next;
    }

    /// <summary>The walk keeps its own stack: tree depth never grows the thread's stack.</summary>
    private static async ValueTask EncodeChildrenAsync(State s, SourceNode root, byte[] relRoot, PxarEntry? previousRoot, CancellationToken ct)
    {
        var frames = new List<Frame> { new(await SortedChildrenAsync(s, root, ct).ConfigureAwait(false), previousRoot) };
        while (frames.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var frame = frames[^1];
            if (frame.Next == frame.Children.Length)
            {
                frames.RemoveAt(frames.Count - 1);
                if (frames.Count > 0) await s.Encoder.EndDirectoryAsync(ct).ConfigureAwait(false);
                continue;
            }
            var node = frame.Children[frame.Next++];
            var name = node.Name;
            var stat = node.Stat;
            var previousDir = frame.PreviousDir;
            PxarEntry? prev = previousDir is null || s.Previous is null ? null
                : await s.Previous.Metadata.LookupAsync(previousDir, name, ct).ConfigureAwait(false);
            switch (stat.Kind)
            {
                case PxarEntryKind.Directory:
                    await s.Encoder.BeginDirectoryAsync(name, stat, node.Metadata, ct).ConfigureAwait(false);
                    frames.Add(new Frame(await SortedChildrenAsync(s, node, ct).ConfigureAwait(false), prev is { IsDirectory: true } ? prev : null));
                    break;
                case PxarEntryKind.File:
                    if (node.HardlinkKey is { } key && s.Links.TryGetValue(key, out var target))
                    {
                        await s.Encoder.AddHardlinkAsync(name, target.Path, target.Offset, ct).ConfigureAwait(false);
                        break;
                    }
                    if (prev is { Kind: PxarEntryKind.Hardlink } && s.Previous is not null)
                        prev = await s.Previous.Metadata.FollowHardlinkAsync(prev, ct).ConfigureAwait(false);
                    long offset = prev is not null && Unchanged(prev, stat, node.Size)
                        ? await AddReusedAsync(s, name, stat, node.Metadata, prev, ct).ConfigureAwait(false)
                        : await AddPreparedAsync(s, node, ct).ConfigureAwait(false) is long prepared and >= 0 ? prepared
                        : await AddEncodedAsync(s, node, ct).ConfigureAwait(false);
                    // A hardlink item holds the target's path; one longer than pxar allows is archived as a file of its own.
                    if (node.HardlinkKey is { } newKey && RelativePath(frames, relRoot, name) is { } rel) s.Links[newKey] = (offset, rel);
                    break;
                case PxarEntryKind.Symlink:
                    await s.Encoder.AddSymlinkAsync(name, stat, node.Metadata, node.SymlinkTarget ?? [], ct).ConfigureAwait(false);
                    break;
                case PxarEntryKind.BlockDevice or PxarEntryKind.CharDevice:
                    await s.Encoder.AddDeviceAsync(name, stat, node.Metadata, node.DeviceMajor, node.DeviceMinor, ct).ConfigureAwait(false);
                    break;
                case PxarEntryKind.Fifo or PxarEntryKind.Socket:
                    await s.Encoder.AddSpecialAsync(name, stat, node.Metadata, ct).ConfigureAwait(false);
                    break;
            }
        }
    }

    private static async ValueTask<SourceNode[]> SortedChildrenAsync(State s, SourceNode dir, CancellationToken ct)
    {
        var children = (await s.Source.ListAsync(dir, ct).ConfigureAwait(false)).ToArray();
        Array.Sort(children, static (a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return children;
    }

    /// <summary>The archive-relative path of <paramref name="name"/> in the deepest frame, or null when longer than a pxar path may be.</summary>
    private static byte[]? RelativePath(List<Frame> frames, byte[] relRoot, byte[] name)
    {
        long length = name.Length + (relRoot.Length > 0 ? relRoot.Length + 1 : 0);
        for (int i = 1; i < frames.Count; i++) length += frames[i - 1].Children[frames[i - 1].Next - 1].Name.Length + 1;
        if (length > PxarFormat.MaxPathLength) return null;
        var path = new byte[length];
        int at = 0;
        if (relRoot.Length > 0)
        {
            relRoot.CopyTo(path, 0);
            at = relRoot.Length;
            path[at++] = (byte)'/';
        }
        for (int i = 1; i < frames.Count; i++)
        {
            var part = frames[i - 1].Children[frames[i - 1].Next - 1].Name;
            part.CopyTo(path, at);
            at += part.Length;
            path[at++] = (byte)'/';
        }
        name.CopyTo(path, at);
        return path;
    }

    /// <summary>The change detection: same kind, size, mode, owner and mtime as in the previous snapshot.</summary>
    public static bool Unchanged(PxarEntry previous, PxarStat stat, long size) =>
        previous.Kind == PxarEntryKind.File && previous.ContentInPayloadStream && previous.Size == size
        && previous.Stat.Mode == stat.Mode && previous.Stat.Uid == stat.Uid && previous.Stat.Gid == stat.Gid
        && previous.Stat.MtimeSeconds == stat.MtimeSeconds && previous.Stat.MtimeNanoseconds == stat.MtimeNanoseconds;

    private static async ValueTask<long> AddEncodedAsync(State s, SourceNode node, CancellationToken ct)
    {
        s.CatchUpEncoder();
        await using var file = await s.Source.OpenAsync(node, ct).ConfigureAwait(false);
        s.Stats.EncodedFiles++;
        s.Stats.EncodedBytes += node.Size;
        return await s.Encoder.AddFileAsync(node.Name, node.Stat, node.Metadata, file, node.Size, ct).ConfigureAwait(false);
    }

    /// <summary>A file whose payload item the source cut and stored ahead: its chunks are appended by digest; -1 when it has none (or the store lost one).</summary>
    private static async ValueTask<long> AddPreparedAsync(State s, SourceNode node, CancellationToken ct)
    {
        if (s.Source.PreparedPayloadOf(node) is not { } prepared || prepared.ContentSize != node.Size) return -1;
        long offset = await AddFromRunAsync(s, node.Name, node.Stat, node.Metadata, prepared.Run, prepared.HeaderOffset, node.Size, stored: false, ct).ConfigureAwait(false);
        if (offset < 0) return -1;
        s.Stats.PreparedFiles++;
        s.Stats.PreparedBytes += prepared.ContentSize;
        return offset;
    }

    private static async ValueTask<long> AddReusedAsync(State s, byte[] name, PxarStat stat, PxarMetadata metadata, PxarEntry prev, CancellationToken ct)
    {
        var index = s.Previous!.PayloadIndex;
        if (prev.ContentOffset + PxarFormat.HeaderSize + prev.Size > index.Size)
            throw new FormatCorruptException($"payload of '{prev.NameString}' lies beyond the previous payload index");
        long offset = await AddFromRunAsync(s, name, stat, metadata, index, prev.ContentOffset, prev.Size, stored: true, ct).ConfigureAwait(false);
        s.Stats.ReusedFiles++;
        return offset;
    }

    /// <summary>
    /// Appends the chunks of <paramref name="run"/> (the previous snapshot's payload index, or a run
    /// prepared ahead) that hold the item at <paramref name="oldHeader"/>, unless they continue the
    /// run appended last, and references the item there. Chunks of a prepared run
    /// (<paramref name="stored"/> false) are checked first: -1 when the store lost one.
    /// </summary>
    private static async ValueTask<long> AddFromRunAsync(State s, byte[] name, PxarStat stat, PxarMetadata metadata,
        DynamicIndex run, long oldHeader, long size, bool stored, CancellationToken ct)
    {
        long oldEnd = oldHeader + PxarFormat.HeaderSize + size;
        int first = run.FindChunk(oldHeader);
        int last = run.FindChunk(oldEnd - 1);
        await s.Encoder.FlushPayloadAsync(ct).ConfigureAwait(false);
        bool continuesRun = ReferenceEquals(s.RunIndex, run) && s.RunLastChunk >= 0 && s.Payload.BytesWritten == s.RunNewEnd
            && first >= s.RunFirstChunk && first <= s.RunLastChunk + 1;
        int from = continuesRun ? s.RunLastChunk + 1 : first;
        if (!stored && last >= from && !await s.Payload.HoldsChunksAsync(run, from, last - from + 1, ct).ConfigureAwait(false)) return -1;
        if (continuesRun)
        {
            if (last > s.RunLastChunk) Inject(s, run, s.RunLastChunk + 1, last - s.RunLastChunk, stored);
        }
        else
        {
            long start = Inject(s, run, first, last - first + 1, stored);
            s.RunIndex = run;
            s.RunFirstChunk = first;
            s.RunNewStart = start;
        }
        long newHeader = s.RunNewStart + (oldHeader - run.ChunkStart(s.RunFirstChunk));
        return await s.Encoder.AddPayloadReferenceAsync(name, stat, metadata, newHeader, size, ct).ConfigureAwait(false);
    }

    private static long Inject(State s, DynamicIndex run, int first, int count, bool reused)
    {
        long start = s.Payload.InjectReusedChunks(run, first, count);
        long bytes = run.ChunkEnd(first + count - 1) - run.ChunkStart(first);
        s.PendingAdvance += bytes;
        s.RunLastChunk = first + count - 1;
        s.RunNewEnd = start + bytes;
        if (reused)
        {
            s.Stats.ReusedChunks += count;
            s.Stats.ReusedBytes += bytes;
        }
        return start;
    }
}
