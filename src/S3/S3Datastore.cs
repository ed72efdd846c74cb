using BackupFs.Datastore.Store;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.S3.Chunks;
using BackupFs.S3.Client;
using BackupFs.S3.Config;
using BackupFs.S3.Content;
using BackupFs.S3.Layout;
using BackupFs.S3.Maintenance;

namespace BackupFs.S3;

public sealed class S3OpenOptions
{
    /// <summary>Uploads bypass the local cache (backup --no-cache).</summary>
    public bool NoCacheUploads { get; init; }
    /// <summary>Keys to use instead of the secrets file / AWS chain.</summary>
    public S3Credentials? Credentials { get; init; }
    /// <summary>Sink for warnings (ignored keys); default stderr.</summary>
    public Action<string>? Warn { get; init; }
    /// <summary>First retry back-off (PBS: 1 s); tests shorten it.</summary>
    public TimeSpan? RetryBaseDelay { get; init; }
    /// <summary>Gets one line when the endpoint stops answering and one when it answers again (a mount's log); null = silent.</summary>
    public Action<string>? OutageLog { get; init; }
    /// <summary>Deadline of one S3 request including retries, instead of the config's (`--s3-timeout`).</summary>
    public double? TimeoutSeconds { get; init; }
    /// <summary>Track the full chunk files an earlier run left in the cache (scans .chunks).</summary>
    public bool AdoptCachedChunks { get; init; } = true;
    /// <summary>How long after opening that scan starts (a command done sooner never pays for it).</summary>
    public TimeSpan AdoptDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Never write to the bucket (a read-only mount); implied for a reader store.</summary>
    public bool ReadOnly { get; init; }
}

/// <summary>
/// An S3-backed datastore as seen from its local cache directory: the config in
/// .backupfs/s3.json, the bucket client, the chunk backend (cache + bucket), the content mirror,
/// and the maintenance operations (check, refresh, corrupt-chunk rename, chunk listing).
/// The cache directory is a regular datastore directory (.chunks + vm/ct/host/ns).
/// </summary>
public sealed class S3Datastore : IDisposable
{
    public string CacheRoot { get; }
    public S3StoreConfig Config { get; }
    public S3ObjectClient Client { get; }
    public S3KeyLayout Layout { get; }
    public S3ChunkBackend Chunks { get; }
    public S3ContentMirror Content { get; }
    private readonly Action<string> _warn;

    private S3Datastore(string cacheRoot, S3StoreConfig config, S3ObjectClient client, S3ChunkBackend chunks, Action<string> warn)
    {
        CacheRoot = cacheRoot;
        Config = config;
        Client = client;
        Layout = chunks.Layout;
        Chunks = chunks;
        Content = new S3ContentMirror(client, Layout);
        _warn = warn;
    }

    public static bool IsS3Datastore(string cacheRoot) => S3ConfigFiles.IsS3Datastore(cacheRoot);

    /// <summary>True for a reader host's cache store: nothing may write to the bucket through it.</summary>
    public bool IsReader => Config.Reader;

    /// <summary>Marks this cache store as a reader's (or a writer's again) in its s3.json.</summary>
    public static void SetReader(string cacheRoot, bool reader)
    {
        cacheRoot = Path.GetFullPath(cacheRoot);
        var config = S3ConfigFiles.LoadConfig(cacheRoot);
        if (config.Reader != reader) S3ConfigFiles.SaveConfig(cacheRoot, config with { Reader = reader });
    }

    /// <summary>
    /// `backupfs init STORE --s3-endpoint ...`: creates the cache directory as a datastore
    /// (.chunks with its 65536 prefix dirs) and writes the config (and a 0600 secrets file when
    /// credentials are given). Does not contact the endpoint: run a check or refresh next.
    /// </summary>
    public static void Init(string cacheRoot, S3StoreConfig config, S3Credentials? credentialsToStore = null)
    {
        config.Validate();
        cacheRoot = Path.GetFullPath(cacheRoot);
        if (S3ConfigFiles.IsS3Datastore(cacheRoot))
            throw new BackupFsException($"{cacheRoot} is already an S3 datastore");
        if (Directory.Exists(cacheRoot) && Directory.EnumerateFileSystemEntries(cacheRoot)
                .Any(e => !Path.GetFileName(e).StartsWith('.') && Path.GetFileName(e) != "lost+found"))
            throw new BackupFsException($"{cacheRoot} is not empty");
        LocalChunkStore.Create(cacheRoot);
        File.WriteAllBytes(Path.Combine(cacheRoot, ".lock"), []);   // as a local datastore has (writers/GC lock it)
        S3ConfigFiles.SaveConfig(cacheRoot, config);
        if (credentialsToStore != null) S3ConfigFiles.SaveSecrets(cacheRoot, credentialsToStore);
    }

    /// <summary>Opens the S3 datastore whose local cache is <paramref name="cacheRoot"/>.</summary>
    /// <exception cref="BackupFsException">not an S3 datastore, bad config, no credentials, or in maintenance</exception>
    public static S3Datastore Open(string cacheRoot, S3OpenOptions? options = null)
    {
        options ??= new S3OpenOptions();
        cacheRoot = Path.GetFullPath(cacheRoot);
        var config = S3ConfigFiles.LoadConfig(cacheRoot);
        if (options.TimeoutSeconds is { } timeout)
        {
            config = config with { TimeoutSeconds = timeout };
            config.Validate();
        }
        MaintenanceMarker.ThrowIfActive(cacheRoot);
        var credentials = options.Credentials ?? S3CredentialResolver.Resolve(cacheRoot);
        var client = S3ClientFactory.Create(config, credentials, options.RetryBaseDelay, options.OutageLog);
        if (config.Reader)
            client.ReadOnlyReason = $"{cacheRoot} is a reader of S3 datastore '{config.StoreName}' (set up with --reader) and never writes to the bucket";
        else if (options.ReadOnly)
            client.ReadOnlyReason = "opened read-only";
        try
        {
            var layout = new S3KeyLayout(config.StoreName);
            long capacity = config.CacheCapacityChunks ?? S3ChunkBackend.DefaultCapacity(cacheRoot);
            var chunks = new S3ChunkBackend(client, layout, cacheRoot, capacity, options.NoCacheUploads);
            // Scanning 65536 cache directories costs seconds of CPU and disk even when they are
            // cached, taken from the reads a command or a fresh mount is doing: start it later, so a
            // short command never pays (what it reads or writes is tracked anyway) and a mount does it
            // once settled. Until it is done the LRU may count too few cached files.
            if (options.AdoptCachedChunks)
                _ = Task.Delay(options.AdoptDelay).ContinueWith(_ =>
                {
                    try { chunks.AdoptCachedChunks(); }
                    catch (DirectoryNotFoundException) { }   // the store was removed meanwhile
                    catch (IOException e) { (options.Warn ?? S3Warnings.Default)($"could not scan the chunk cache: {e.Message}"); }
                }, TaskScheduler.Default);
            return new S3Datastore(cacheRoot, config, client, chunks, options.Warn ?? S3Warnings.Default);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>The datastore view the rest of BackupFs works with: local cache dir + S3 chunks + S3 content mirror.</summary>
    public DataStore ToDataStore() => new(CacheRoot, Chunks, Content, Config.StoreName);

    public Task<S3CheckResult> CheckAsync(bool writeProbe = true, CancellationToken ct = default) =>
        S3ConnectionCheck.RunAsync(Client, Layout, writeProbe, ct);

    /// <summary>Writes "&lt;store&gt;/.in-use" for this host (PBS does at creation); refuses a store claimed already unless overwriting.</summary>
    public Task ClaimAsync(bool overwrite = false, CancellationToken ct = default) =>
        S3InUseMarker.ClaimAsync(Client, Layout, overwrite, ct);

    public Task<S3RefreshResult> RefreshAsync(CancellationToken ct = default) =>
        S3Refresh.RunAsync(Client, Layout, CacheRoot, _warn, ct);

    public Task<string?> RenameCorruptChunkAsync(Digest digest, CancellationToken ct = default) =>
        S3CorruptChunkRenamer.RenameAsync(Chunks, digest, ct);

    public IAsyncEnumerable<S3ChunkObject> ListChunksAsync(CancellationToken ct = default) =>
        S3ChunkLister.ListAsync(Client, Layout, _warn, ct: ct);

    public void Dispose() => Client.Dispose();
}
