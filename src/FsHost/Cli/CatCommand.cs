using System.CommandLine;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Reading;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// `backupfs cat STORE SNAPSHOT ARCHIVE [PATH]`: write an archive's bytes (blob, image, raw stream)
/// or one file inside a pxar archive to stdout.
/// </summary>
public static class CatCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var snapshot = CommonOptions.Snapshot();
        var archive = new Argument<string>("ARCHIVE") { Description = "archive name, e.g. root.pxar, drive-scsi0.img, qemu-server.conf (or the server name)" };
        var path = new Argument<string?>("PATH") { Description = "a file inside a pxar archive", Arity = ArgumentArity.ZeroOrOne };
        var ns = CommonOptions.Namespace();
        var keyFile = KeyOptions.KeyFile();
        var command = new Command("cat", "write an archive, or one file inside a pxar archive, to stdout") { store, snapshot, archive, path, ns, keyFile, s3Timeout };
        command.SetAction(async (parse, ct) =>
        {
            var ds = StoreOpener.Open(parse.GetValue(store)!, StoreOpener.WithTimeout(parse.GetValue(s3Timeout)));
            var snap = BackupPathArgument.Resolve(ds, parse.GetValue(snapshot)!, parse.GetValue(ns));
            var keys = KeyOptions.Load(parse.GetValue(keyFile));
            using var chunks = StoreOpener.ChunkSource(ds);
            using var sources = StoreOpener.ChunkSources(ds, chunks);
            var reader = SnapshotReader.Open(ds, snap, chunks, keys, sources);
            KeyOptions.CheckGivenKeyFits(reader, keys, parse.InvocationConfiguration.Error);
            await using var stdout = Console.OpenStandardOutput();
            var name = parse.GetValue(archive)!;
            var inner = parse.GetValue(path);
            if (inner is not null)
            {
                await PxarArchiveCommands.CatFileAsync(reader, chunks, name, inner, stdout, ct);
                return 0;
            }
            var file = ArchiveResolver.Resolve(reader.FileNames.ToList(), name, snap).IndexFile;
            if (file.EndsWith(".blob", StringComparison.Ordinal))
            {
                await stdout.WriteAsync(reader.ReadBlob(file), ct);
                return 0;
            }
            var source = new PrefetchingReader(reader.OpenIndex(file), reader.ChunksFor(file, chunks), windowChunks: 4);
            await StreamCopy.CopyAsync(source, 0, source.Length, stdout, ct);
            S3Usage.Report(ds, parse.InvocationConfiguration.Error);
            return 0;
        });
        return command;
    }
}
