using System.CommandLine;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Writing;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// `backupfs backup STORE SOURCE --type host --id NAME [--ns a/b] [--image]`: a directory becomes
/// root.pxar.didx (PBS's legacy single-stream layout), a file with --image becomes &lt;name&gt;.img.fidx.
/// Prints the new snapshot's path.
/// </summary>
public static class BackupCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var s3Timeout = CommonOptions.S3Timeout();
        var source = new Argument<string>("SOURCE") { Description = "directory to back up (or, with --image, a file or block device)" };
        var type = new Option<string>("--type") { Description = "group type: host, vm or ct", DefaultValueFactory = _ => "host" };
        var id = new Option<string>("--id") { Description = "group id, e.g. web1 or 100", Required = true };
        var ns = CommonOptions.Namespace();
        var image = new Option<bool>("--image") { Description = "back up SOURCE as a disk image (fixed 4 MiB chunks, .img.fidx)" };
        var archive = new Option<string?>("--archive") { Description = "archive name (default root.pxar, or <file name>.img with --image)" };
        var time = new Option<string?>("--time") { Description = "backup time (YYYY-MM-DDTHH:MM:SSZ, default now)" };
        var owner = new Option<string>("--owner") { Description = "owner of a new group", DefaultValueFactory = _ => "root@pam" };
        var chunkSize = new Option<int?>("--chunk-size") { Description = "chunk size in KiB (64…4096, a power of two): the fixed size for images, the average for directories (default 4096)" };
        var noCache = new Option<bool>("--no-cache") { Description = "S3 datastores: upload chunks without keeping them in the local cache" };
        var keyFile = KeyOptions.KeyFile();
        keyFile.Description = "encryption key file (PBS key config JSON): the snapshot is encrypted (or signed, with --crypt-mode sign-only)";
        var cryptMode = new Option<string?>("--crypt-mode") { Description = "none, encrypt (default with --keyfile) or sign-only" };
        var masterPubkey = new Option<string?>("--master-pubkey-file") { Description = "RSA master public key (PEM): also store the key, RSA-encrypted, as rsa-encrypted.key.blob" };
        var command = new Command("backup", "back up a directory or an image into a new snapshot")
            { store, source, type, id, ns, image, archive, time, owner, chunkSize, noCache, s3Timeout, keyFile, cryptMode, masterPubkey };
        command.SetAction(async (parse, ct) =>
        {
            // Checked before anything else: a time out of range must not get as far as the store.
            var timeText = parse.GetValue(time);
            long? backupTime = timeText is null ? null : NameRules.ParseNewBackupTime(timeText, DateTimeOffset.UtcNow);
            var ds = StoreOpener.OpenForWriting(parse.GetValue(store)!, "backup", new S3.S3OpenOptions { NoCacheUploads = parse.GetValue(noCache), TimeoutSeconds = parse.GetValue(s3Timeout) });
            var group = BackupPathArgument.Group(BackupPathArgument.Namespace(parse.GetValue(ns)), parse.GetValue(type)!, parse.GetValue(id)!);
            await ds.EnsureNamespaceAsync(group.Namespace, ct);
            var src = Path.GetFullPath(parse.GetValue(source)!);
            bool isImage = parse.GetValue(image);
            if (isImage ? !File.Exists(src) : !Directory.Exists(src))
                throw new BackupFsException(isImage ? $"image source {src} is not a file" : $"source directory {src} does not exist");
            var crypto = KeyOptions.WriteCrypto(parse.GetValue(keyFile), parse.GetValue(cryptMode), parse.GetValue(masterPubkey), parse.InvocationConfiguration.Error);
            var options = crypto with
            {
                BackupTime = backupTime,
                Owner = parse.GetValue(owner)!,
            };

            int chunkBytes = ChunkSizeBytes(parse.GetValue(chunkSize));
            await using var writer = await BackupStarter.BeginAsync(ds, group, options, ct);
            using (var progress = new ProgressLine("backup"))
            {
                if (isImage)
                {
                    var name = NameRules.ToServerArchiveName(parse.GetValue(archive) ?? SafeImageName(src));
                    await ImageBackup.WriteAsync(writer, name, src, progress.Add, ct, chunkBytes);
                }
                else
                {
                    var name = NameRules.ToServerArchiveName(parse.GetValue(archive) ?? "root.pxar");
                    await DirectoryBackup.WriteAsync(writer, name, src, progress.Add, ct, chunkBytes);
                }
            }
            await writer.FinishAsync();
            var s = writer.Stats;
            parse.InvocationConfiguration.Output.WriteLine(writer.Snapshot.RelativePath);
            parse.InvocationConfiguration.Error.WriteLine($"{ProgressLine.Format(s.Bytes)} in {s.Chunks} chunks, {s.InsertedChunks} new ({ProgressLine.Format(s.InsertedBytes)} stored), {s.DuplicateChunks} already known");
            S3Usage.Report(ds, parse.InvocationConfiguration.Error);
            return 0;
        });
        return command;
    }

    /// <summary>PBS's accepted chunk sizes: 64 KiB to 4 MiB, powers of two.</summary>
    private static int ChunkSizeBytes(int? kib)
    {
        if (kib is null) return 4 * 1024 * 1024;
        if (kib < 64 || kib > 4096 || (kib & (kib - 1)) != 0)
            throw new BackupFsException($"--chunk-size must be a power of two from 64 to 4096 KiB, not {kib}");
        return kib.Value * 1024;
    }

    private static string SafeImageName(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        var safe = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_').ToArray());
        if (safe.Length == 0 || !char.IsAsciiLetterOrDigit(safe[0])) safe = "disk" + safe;
        return safe + ".img";
    }
}
