using BackupFs.Datastore.Formats;

namespace BackupFs.Datastore.Crypto;

/// <summary>
/// The keys a command or mount was given, found by the fingerprint a manifest names (or, for old
/// signed manifests without one, by whose id_key produced the signature).
/// </summary>
public sealed class KeyRing
{
    private readonly List<CryptKey> _keys = [];

    public static readonly KeyRing Empty = new();

    public KeyRing(IEnumerable<CryptKey>? keys = null)
    {
        foreach (var k in keys ?? [])
            if (Find(k.Fingerprint) is null) _keys.Add(k);
    }

    public IReadOnlyList<CryptKey> Keys => _keys;
    public bool IsEmpty => _keys.Count == 0;

    public CryptKey? Find(KeyFingerprint fingerprint) => _keys.Find(k => k.Fingerprint == fingerprint);

    /// <summary>
    /// The key for a snapshot: the one its manifest names; without a name, the one that signed it;
    /// for an unsigned, unnamed manifest, the only key if there is exactly one (unless
    /// <paramref name="confirmedOnly"/>: verify renames chunks that fail, so it never guesses). Null if none fits.
    /// </summary>
    public CryptKey? ForManifest(BackupManifest manifest, ReadOnlySpan<byte> manifestJson, bool confirmedOnly = false)
    {
        if (ManifestSignature.FingerprintOf(manifest) is { } named) return Find(named);
        foreach (var k in _keys)
            if (ManifestSignature.IsSignedBy(manifest, manifestJson, k)) return k;
        return !confirmedOnly && manifest.Signature is null && _keys.Count == 1 ? _keys[0] : null;
    }
}
