using BackupFs.Datastore.Formats;

namespace BackupFs.S3.Layout;

/// <summary>A chunk object's key parsed: its digest and, for a renamed corrupt chunk, the .N.bad counter.</summary>
public readonly record struct ChunkKey(Digest Digest, int? BadIndex);

/// <summary>
/// Object keys of one datastore in a bucket (PBS 4 layout): every key starts with the store name;
/// chunks at "&lt;store&gt;/.chunks/&lt;4 hex&gt;/&lt;64 hex&gt;", renamed corrupt chunks with a ".N.bad"
/// suffix, all other content at "&lt;store&gt;/.cnt/&lt;datastore-relative path&gt;".
/// </summary>
public sealed class S3KeyLayout
{
    public const string ChunkDir = ".chunks";
    public const string ContentDir = ".cnt";
    public const int MaxKeyLength = 1024;

    public string StoreName { get; }
    /// <summary>"&lt;store&gt;/": everything of this datastore.</summary>
    public string StorePrefix { get; }
    /// <summary>"&lt;store&gt;/.chunks/"</summary>
    public string ChunkPrefix { get; }
    /// <summary>"&lt;store&gt;/.cnt/"</summary>
    public string ContentPrefix { get; }

    public S3KeyLayout(string storeName)
    {
        if (!ContentPathRules.IsSafeId(storeName))
            throw new InvalidNameException($"invalid datastore name '{storeName}' (letters, digits, '_', '.', '-'; not starting with '.' or '-')");
        StoreName = storeName;
        StorePrefix = storeName + "/";
        ChunkPrefix = StorePrefix + ChunkDir + "/";
        ContentPrefix = StorePrefix + ContentDir + "/";
    }

    public string ChunkObjectKey(Digest digest) => ChunkPrefix + digest.Prefix + "/" + digest.ToHex();

    /// <summary>Key of a corrupt chunk renamed by verify, n in 0..9.</summary>
    public string BadChunkObjectKey(Digest digest, int n)
    {
        if (n is < 0 or > 9) throw new ArgumentOutOfRangeException(nameof(n), "bad-chunk counter is 0..9");
        return ChunkObjectKey(digest) + "." + n + ".bad";
    }

    /// <exception cref="InvalidNameException">the path breaks the datastore naming rules</exception>
    public string ContentObjectKey(string relativePath)
    {
        var reason = ContentPathRules.CheckFile(relativePath);
        if (reason != null) throw new InvalidNameException($"invalid datastore path '{relativePath}': {reason}");
        return ContentPrefix + relativePath;
    }

    /// <summary>Prefix of everything below a content directory, always ending in '/'.</summary>
    /// <exception cref="InvalidNameException">the path is not a namespace, type, group or snapshot directory</exception>
    public string ContentDirectoryPrefix(string relativeDirectory)
    {
        var dir = relativeDirectory.TrimEnd('/');
        var reason = ContentPathRules.CheckDirectory(dir);
        if (reason != null) throw new InvalidNameException($"invalid datastore directory '{relativeDirectory}': {reason}");
        return dir.Length == 0 ? ContentPrefix : ContentPrefix + dir + "/";
    }

    /// <summary>Parses a full chunk key; false for anything that is not exactly a chunk of this store.</summary>
    public bool TryParseChunkKey(string key, out ChunkKey chunk)
    {
        chunk = default;
        if (!key.StartsWith(ChunkPrefix, StringComparison.Ordinal)) return false;
        var rest = key.AsSpan(ChunkPrefix.Length);
        // <4 hex>/<64 hex>[.<d>.bad]
        if (rest.Length != 4 + 1 + 64 && rest.Length != 4 + 1 + 64 + 6) return false;
        if (rest[4] != '/') return false;
        if (!Digest.TryParse(rest.Slice(5, 64), out var digest)) return false;
        if (!rest[..4].SequenceEqual(digest.Prefix)) return false;
        int? bad = null;
        if (rest.Length > 69)
        {
            var suffix = rest[69..];
            if (suffix[0] != '.' || !char.IsAsciiDigit(suffix[1]) || !suffix[2..].SequenceEqual(".bad")) return false;
            bad = suffix[1] - '0';
        }
        chunk = new ChunkKey(digest, bad);
        return true;
    }

    /// <summary>
    /// Parses a full content key into its datastore-relative path; false (with the reason) for
    /// keys outside ".cnt/" or breaking the naming rules.
    /// </summary>
    public bool TryParseContentKey(string key, out string relativePath, out string? reason)
    {
        relativePath = "";
        if (!key.StartsWith(ContentPrefix, StringComparison.Ordinal))
        {
            reason = $"not below {ContentPrefix}";
            return false;
        }
        var rel = key[ContentPrefix.Length..];
        reason = ContentPathRules.CheckFile(rel);
        if (reason != null) return false;
        relativePath = rel;
        return true;
    }
}
