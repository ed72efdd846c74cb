using System.CommandLine;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Pxar;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// `backupfs restore STORE SNAPSHOT ARCHIVE TARGET [--path P]`: a pxar archive (or one path in it)
/// is unpacked into the TARGET directory with metadata; an image or blob is written to the TARGET file.
/// </summary>
public static class RestoreCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var snapshot = CommonOptions.Snapshot();
        var archive = new Argument<string>("ARCHIVE") { Description = "archive name: root.pxar, drive-scsi0.img, qemu-server.conf, …" };
        var target = new Argument<string>("TARGET") { Description = "directory to restore a pxar archive into, or file to write an image/blob to" };
        var path = new Option<string?>("--path") { Description = "restore only this path inside a pxar archive" };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace existing files in TARGET" };
        var ns = CommonOptions.Namespace();
        var keyFile = KeyOptions.KeyFile();
        var command = new Command("restore", "restore an archive, or one path inside a pxar archive") { store, snapshot, archive, target, path, overwrite, ns, keyFile, s3Timeout };
        command.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.Open(parse.GetValue(store)!, StoreOpener.WithTimeout(parse.GetValue(s3Timeout)));
            var snap = BackupPathArgument.Resolve(ds, parse.GetValue(snapshot)!, parse.GetValue(ns));
            var keys = KeyOptions.Load(parse.GetValue(keyFile));
            using var chunks = StoreOpener.ChunkSource(ds);
            using var sources = StoreOpener.ChunkSources(ds, chunks);
            var reader = SnapshotReader.Open(ds, snap, chunks, keys, sources);
            KeyOptions.CheckGivenKeyFits(reader, keys, parse.InvocationConfiguration.Error);
            var name = parse.GetValue(archive)!;
            var dest = Path.GetFullPath(parse.GetValue(target)!);
            var found = ArchiveResolver.Resolve(reader.FileNames.ToList(), name, snap);
            var output = parse.InvocationConfiguration.Output;

            if (found.Kind == ArchiveKind.Pxar)
            {
                var accessor = await PxarArchiveOpener.OpenAsync(reader, chunks, found.IndexFile, ct);
                var extractor = new PxarExtractor(accessor, new PxarExtractOptions { Overwrite = parse.GetValue(overwrite) });
                var inner = (parse.GetValue(path) ?? "").Trim('/');
                // Looked up first, so that a failure to create TARGET is reported as what it is.
                if (await accessor.LookupPathAsync(inner, followFinalHardlink: false, ct) is null)
                    throw new BackupFsException($"'{inner}' is not in {name}");
                await extractor.ExtractAsync(dest, inner, ct);
                output.WriteLine($"restored {snap}/{name}{(inner.Length > 0 ? "/" + inner : "")} to {dest}");
                return 0;
            }
            if (parse.GetValue(path) is not null) throw new BackupFsException("--path applies to pxar archives only");
            if (File.Exists(dest) && !parse.GetValue(overwrite)) throw new BackupFsException($"{dest} exists (use --overwrite)");
            var tmp = dest + ".backupfs-partial";
            await using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
            {
                if (found.Kind == ArchiveKind.Blob)
                    await file.WriteAsync(reader.ReadBlob(found.IndexFile), ct);
                else
                {
                    var source = new PrefetchingReader(reader.OpenIndex(found.IndexFile), reader.ChunksFor(found.IndexFile, chunks), windowChunks: 4);
                    using var progress = new ProgressLine("restore");
                    await StreamCopy.CopyAsync(source, 0, source.Length, file, ct, n => progress.Add(n));
                }
            }
            File.Move(tmp, dest, overwrite: true); // a failed restore leaves no half file under the real name
            output.WriteLine($"restored {snap}/{name} to {dest}");
            return 0;
        });
        return command;
    }
}
