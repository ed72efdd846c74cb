using System.Text.Json;
using System.Text.Json.Serialization;
using BackupFs.Datastore.Formats;
using BackupFs.Datastore.Layout;
using BackupFs.Datastore.Store;

namespace BackupFs.S3.Config;

/// <summary>
/// Files of an S3 datastore inside its local cache directory:
/// <c>.backupfs/s3.json</c> (the <see cref="S3StoreConfig"/>, no secrets) and
/// <c>.backupfs/s3-secrets.json</c> (access and secret key, mode 0600; refused when others can read it).
/// </summary>
public static class S3ConfigFiles
{
    public const string StateDir = DataStore.PrivateDirName;
    public const string ConfigName = "s3.json";
    public const string SecretsName = "s3-secrets.json";

    public static string ConfigPath(string cacheRoot) => Path.Combine(cacheRoot, StateDir, ConfigName);
    public static string SecretsPath(string cacheRoot) => Path.Combine(cacheRoot, StateDir, SecretsName);

    public static bool IsS3Datastore(string cacheRoot) => File.Exists(ConfigPath(cacheRoot));

    /// <summary>Writes s3.json, mode 0600 from its creation (it names the endpoint and bucket; no secrets).</summary>
    public static void SaveConfig(string cacheRoot, S3StoreConfig config)
    {
        config.Validate();
        WritePrivate(ConfigPath(cacheRoot), JsonSerializer.SerializeToUtf8Bytes(config, S3ConfigJson.Default.S3StoreConfig));
    }

    /// <exception cref="BackupFsException">missing, unreadable or invalid config</exception>
    public static S3StoreConfig LoadConfig(string cacheRoot)
    {
        var path = ConfigPath(cacheRoot);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BackupFsException($"{cacheRoot} is not an S3 datastore (no {StateDir}/{ConfigName})");
        }
        S3StoreConfig? config;
        try { config = JsonSerializer.Deserialize(bytes, S3ConfigJson.Default.S3StoreConfig); }
        catch (JsonException e) { throw new BackupFsException($"invalid S3 config {path}: {e.Message}", e); }
        if (config == null) throw new BackupFsException($"invalid S3 config {path}: empty");
        config.Validate();
        return config;
    }

    /// <summary>Writes the secrets file with mode 0600 from the start (never world-readable, not even briefly).</summary>
    public static void SaveSecrets(string cacheRoot, S3Credentials credentials) =>
        WritePrivate(SecretsPath(cacheRoot),
            JsonSerializer.SerializeToUtf8Bytes(new SecretsJson { AccessKey = credentials.AccessKey, SecretKey = credentials.SecretKey }, S3ConfigJson.Default.SecretsJson));

    /// <summary>
    /// Atomic replace with a temporary file created 0600 (O_CREAT|O_EXCL with the mode, so there is
    /// no moment where it is readable by others, whatever the umask), in a state directory made 0700.
    /// </summary>
    private static void WritePrivate(string path, byte[] body)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("S3 config files need Unix permissions");
        // .backupfs made (or checked) 0700, refused when it is a symlink or someone else's.
        var dir = Path.GetDirectoryName(path)!;
        var cacheRoot = Path.GetDirectoryName(dir)!;
        Directory.CreateDirectory(cacheRoot);
        Datastore.Platform.PrivateDirectory.Ensure(cacheRoot, StateDir);
        var tmp = path + ".tmp_" + Random.Shared.Next().ToString("x8");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        try
        {
            using (var fs = new FileStream(tmp, options)) fs.Write(body);
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>The secrets file's keys, or null when there is none.</summary>
    /// <exception cref="BackupFsException">the file is readable by group/others, or invalid</exception>
    public static S3Credentials? LoadSecrets(string cacheRoot) => LoadSecretsFile(SecretsPath(cacheRoot));

    public static S3Credentials? LoadSecretsFile(string path)
    {
        if (!File.Exists(path)) return null;
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("S3 secrets files need Unix permissions");
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                                  | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        if ((mode & others) != 0)
            throw new BackupFsException($"refusing S3 secrets file {path}: it is accessible by group or others (run: chmod 600 {path})");
        SecretsJson? s;
        try { s = JsonSerializer.Deserialize(File.ReadAllBytes(path), S3ConfigJson.Default.SecretsJson); }
        catch (JsonException) { throw new BackupFsException($"invalid S3 secrets file {path} (expected JSON with access-key and secret-key)"); }
        if (s == null || string.IsNullOrWhiteSpace(s.AccessKey) || string.IsNullOrEmpty(s.SecretKey))
            throw new BackupFsException($"invalid S3 secrets file {path}: access-key and secret-key are required");
        return new S3Credentials(s.AccessKey, s.SecretKey, "secrets file");
    }

}

/// <summary>The secrets file's JSON shape.</summary>
internal sealed class SecretsJson
{
    public string? AccessKey { get; set; }
    public string? SecretKey { get; set; }
}

/// <summary>
/// Serializers for the config files, generated at compile time: the native (AOT) build has no
/// reflection-based serializer, and the generated code writes the same kebab-case JSON.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.KebabCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(S3StoreConfig))]
[JsonSerializable(typeof(SecretsJson))]
internal sealed partial class S3ConfigJson : JsonSerializerContext;
