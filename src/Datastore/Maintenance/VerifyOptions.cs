namespace BackupFs.Datastore.Maintenance;

/// <summary>Settings of one verify run.</summary>
public sealed record VerifyOptions
{
    /// <summary>Task id recorded in each manifest's verify_state; default a new UPID of type verify.</summary>
    public string? Upid { get; init; }
    /// <summary>Where chunks are read and corrupt ones renamed; default chosen by <see cref="MaintenanceBackends.ForVerify"/>.</summary>
    public IVerifyBackend? Backend { get; init; }
    /// <summary>Progress of phase "verify": items = chunk references processed (total known up front), bytes = decoded chunk bytes.</summary>
    public IProgress<MaintenanceProgress>? Progress { get; init; }
    /// <summary>Chunks read and checked at once (0 = number of cores).</summary>
    public int Parallelism { get; init; }
    /// <summary>Record verify_state in each verified snapshot's manifest, as PBS does. Default on.</summary>
    public bool RecordState { get; init; } = true;
    /// <summary>
    /// Keys for encrypted and signed snapshots: with a snapshot's key, verify also checks the
    /// manifest signature, each encrypted chunk's GCM tag and keyed digest, and decrypts encrypted
    /// blobs. Without it only what the server can check: CRC, crypt mode, sizes and checksums.
    /// </summary>
    public Crypto.KeyRing? Keys { get; init; }
}
