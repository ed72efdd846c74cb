using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Locking;
using BackupFs.Datastore.Reading;
using BackupFs.Datastore.Writing;
using BackupFs.FsHost.Nodes;
using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Tree;

/// <summary>
/// Compiles the mount's read paths before the mount answers its first request, by walking a tiny
/// throwaway datastore (made here, in a temp directory) through the same tree code: compiling on
/// first use was about a quarter of a cold `find` over a large snapshot. Only the JIT-compiled
/// program (`dotnet backupfs.dll`) needs it; the native one has nothing to compile and skips it
/// (<see cref="Needed"/>). The walk touches no data of the datastore being mounted, so its caches
/// stay cold. Failures are ignored: warming up is an optimisation only.
/// </summary>
public static class MountWarmup
{
    /// <summary>Whether this process compiles code at run time (false in the native, ahead-of-time compiled program).</summary>
    public static bool Needed => System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled;

    public static async Task RunAsync(CancellationToken ct = default)
    {
        var name = $"backupfs-warmup-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var dir = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), name);
        try
        {
            var src = Path.Combine(dir, "src");
            Directory.CreateDirectory(Path.Combine(src, "sub"));
            var text = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("warm up the read paths\n", 4000)));
            for (int i = 0; i < 8; i++) File.WriteAllBytes(Path.Combine(src, "sub", $"f{i}"), text[..(text.Length / (i + 1))]);
            File.CreateSymbolicLink(Path.Combine(src, "link"), "sub/f0");
            // A unique store name: on a PBS host its group lock lives in PBS's lock directory, named by it.
            var store = DataStore.CreateLocal(Path.Combine(dir, name));
            await using (var writer = await BackupStarter.BeginAsync(store, BackupGroup.Parse("host/warmup"), ct: ct).ConfigureAwait(false))
            {
                await DirectoryBackup.WriteAsync(writer, "root.pxar.didx", src, ct: ct).ConfigureAwait(false);
                await writer.FinishAsync().ConfigureAwait(false);
            }
            using var chunks = new CachedChunkSource(new DecodingChunkSource(store.Chunks), 8L * 1024 * 1024);
            using var fs = DatastoreTree.Create(store, chunks, errors: new MountErrorLog(_ => { }));
            var ctx = new RequestContext(0, 0, 0, ct);
            await WalkAsync(fs, ctx, 1, depth: 0).ConfigureAwait(false);
        }
        catch (Exception) when (!ct.IsCancellationRequested) { }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (PbsLockLayout.Mode == PbsLockMode.RunDirectory)
                try { Directory.Delete(Path.Combine(PbsLockLayout.LockRoot, name), recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task WalkAsync(NodeHost fs, RequestContext ctx, ulong node, int depth)
    {
        if (depth > 8) return;
        var open = await fs.OpenDirectory(ctx, node, 0).ConfigureAwait(false);
        if (!open.IsOk) return;
        var writer = new CollectingWriter();
        await fs.ReadDirectory(ctx, node, open.Value.Handle, 0, writer).ConfigureAwait(false);
        await fs.ReleaseDirectory(ctx, node, open.Value.Handle).ConfigureAwait(false);
        foreach (var (name, entry) in writer.Entries)
        {
            var looked = await fs.Lookup(ctx, node, name).ConfigureAwait(false);
            if (looked.IsOk && looked.Value.NodeId != 0) fs.Forget(looked.Value.NodeId, 1);
            await fs.GetAttributes(ctx, entry.NodeId, null).ConfigureAwait(false);
            await fs.ListXattr(ctx, entry.NodeId, Memory<byte>.Empty).ConfigureAwait(false);
            switch (entry.Attributes.Mode & FileModes.TypeMask)
            {
                case FileModes.Directory:
                    await WalkAsync(fs, ctx, entry.NodeId, depth + 1).ConfigureAwait(false);
                    break;
                case FileModes.Symlink:
                    await fs.ReadLink(ctx, entry.NodeId).ConfigureAwait(false);
                    break;
                case FileModes.Regular:
                    var file = await fs.Open(ctx, entry.NodeId, 0).ConfigureAwait(false);
                    if (!file.IsOk) break;
                    var buffer = new byte[64 * 1024];
                    await fs.Read(ctx, entry.NodeId, file.Value.Handle, 0, buffer).ConfigureAwait(false);
                    await fs.Release(ctx, entry.NodeId, file.Value.Handle, 0).ConfigureAwait(false);
                    break;
            }
            fs.Forget(entry.NodeId, 1);
        }
    }

    /// <summary>A readdirplus reply that keeps every entry (the walk gives the lookup counts back).</summary>
    private sealed class CollectingWriter : DirectoryEntryWriter
    {
        public List<(byte[] Name, EntryInfo Entry)> Entries { get; } = new();
        public override bool IsPlus => true;
        public override int Count => Entries.Count;
        public override bool TryAdd(ReadOnlySpan<byte> name, ulong inode, uint mode, ulong nextOffset) => true;

        public override bool TryAddPlus(ReadOnlySpan<byte> name, in EntryInfo entry, ulong nextOffset)
        {
            if (entry.NodeId != 0) Entries.Add((name.ToArray(), entry));
            return true;
        }
    }
}
