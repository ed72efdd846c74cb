using System.CommandLine;

namespace BackupFs.FsHost.Cli;

/// <summary>Arguments and options several commands share.</summary>
public static class CommonOptions
{
    public static Argument<string> Store() => new("STORE") { Description = "datastore directory (local datastore, or the local cache of an S3 datastore)" };
    public static Option<string?> Namespace() => new("--ns") { Description = "namespace, e.g. team/a (default: root namespace)" };
    public static Option<double?> S3Timeout() => new("--s3-timeout")
    {
        Description = "S3 datastores: seconds one S3 request may take, retries included, before it fails (default: the store's timeout-seconds, 30)",
    };
    public static Argument<string> Snapshot() => new("SNAPSHOT") { Description = "snapshot path, e.g. host/web1/2025-07-14T14:20:02Z or ns/a/host/web1/… (or <type>/<id> for the latest)" };
    public static Argument<string> ExplicitSnapshot() => new("SNAPSHOT") { Description = "snapshot path with its time, e.g. host/web1/2025-07-14T14:20:02Z or ns/a/host/web1/… (a group is refused)" };
    public static Argument<string> Group() => new("GROUP") { Description = "group, e.g. host/web1 (or ns/a/host/web1)" };
}
