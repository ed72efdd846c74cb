using System.CommandLine;
using BackupFs.Datastore.Layout;
using BackupFs.S3;
using BackupFs.S3.Config;

namespace BackupFs.FsHost.Cli;

/// <summary>
/// `backupfs init STORE [--s3-endpoint URL --bucket NAME …]`: create an empty datastore in PBS's
/// layout; with an S3 endpoint STORE becomes the local cache store of a bucket-backed datastore.
/// </summary>
public static class InitCommand
{
    public static Command Create()
    {
        var store = CommonOptions.Store();
        var endpoint = new Option<string?>("--s3-endpoint") { Description = "S3 endpoint URL; {{bucket}} and {{region}} are replaced (makes an S3 datastore)" };
        var bucket = new Option<string?>("--bucket") { Description = "bucket name (with --s3-endpoint)" };
        var region = new Option<string?>("--region") { Description = "region (default us-west-1; 'auto' for Cloudflare R2)" };
        var pathStyle = new Option<bool>("--path-style") { Description = "path-style addressing (http://host/bucket/key) instead of virtual-host" };
        var storeName = new Option<string?>("--store-name") { Description = "datastore name, the key prefix in the bucket (default: STORE's directory name)" };
        var putRate = new Option<double?>("--put-rate-limit") { Description = "at most this many PUT requests per second" };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "SHA-256 fingerprint of the endpoint's TLS certificate (self-signed endpoints)" };
        var cacheChunks = new Option<long?>("--cache-chunks") { Description = "local chunk cache capacity in chunks (default from free space)" };
        var s3Timeout = new Option<double?>("--s3-timeout") { Description = $"seconds one S3 request may take, retries included, before it fails (stored in the config; default {S3StoreConfig.DefaultTimeoutSeconds})" };
        var saveKeys = new Option<bool>("--save-credentials") { Description = "store AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in a 0600 secrets file in STORE" };
        var reader = new Option<bool>("--reader")
        {
            Description = "this host only reads the datastore (another host, e.g. the PBS server, writes it): nothing here ever writes to the bucket",
        };
        var command = new Command("init", "create an empty datastore (PBS layout), locally or as the cache of an S3 bucket")
            { store, endpoint, bucket, region, pathStyle, storeName, putRate, fingerprint, cacheChunks, s3Timeout, saveKeys, reader };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(store)!;
            var output = parse.InvocationConfiguration.Output;
            var url = parse.GetValue(endpoint);
            if (url is null)
            {
                if (parse.GetValue(bucket) is not null) throw new Datastore.Formats.BackupFsException("--bucket needs --s3-endpoint");
                if (parse.GetValue(reader)) throw new Datastore.Formats.BackupFsException("--reader is for S3 datastores (a local datastore is written where it lives)");
                var ds = DataStore.CreateLocal(path);
                output.WriteLine($"created datastore {ds.Root}");
                return 0;
            }
            var bucketName = parse.GetValue(bucket) ?? throw new Datastore.Formats.BackupFsException("--s3-endpoint needs --bucket");
            var config = S3StoreConfig.ForInit(path, url, bucketName, parse.GetValue(region), parse.GetValue(pathStyle),
                parse.GetValue(storeName), parse.GetValue(putRate), parse.GetValue(fingerprint), parse.GetValue(cacheChunks), parse.GetValue(reader), parse.GetValue(s3Timeout));
            var keys = parse.GetValue(saveKeys) ? S3CredentialResolver.Resolve(null) : null;
            S3Datastore.Init(path, config, keys);
            output.WriteLine($"created S3 datastore '{config.StoreName}' in bucket {config.Bucket} with local cache {Path.GetFullPath(path)}{(config.Reader ? " (reader: never writes to the bucket)" : "")}");
            output.WriteLine($"next: backupfs s3 check {path}  (and backupfs s3 refresh {path} if the bucket already holds this datastore)");
            return 0;
        });
        return command;
    }
}
