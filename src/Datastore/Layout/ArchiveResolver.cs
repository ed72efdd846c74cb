namespace BackupFs.Datastore.Layout;

/// <summary>
/// The one place that maps archive names to a snapshot's server files: what a user types
/// (root.pxar, drive-scsi0.img, qemu-server.conf, or the server name itself) to the files to read,
/// and a server file back to the name users see.
/// </summary>
public static class ArchiveResolver
{
    private const string PxarIndex = ".pxar.didx", MetadataIndex = ".mpxar.didx", PayloadIndex = ".ppxar.didx";
    private const string ClientLog = "client.log.blob";

    /// <summary>
    /// A name as the command line takes it: a server file name of the snapshot; "root.pxar" for a
    /// split pair; a client name PBS maps (disk.img to disk.img.fidx, x.conf to x.conf.blob); "client.log"
    /// (the upload log, which the manifest does not list). Null when the snapshot has no such archive.
    /// </summary>
    public static SnapshotArchive? Find(IReadOnlyCollection<string> fileNames, string name)
    {
        if (fileNames.Contains(name)) return Describe(fileNames, name);
        if (name.EndsWith(".pxar", StringComparison.Ordinal) && fileNames.Contains(name[..^".pxar".Length] + MetadataIndex))
            return Describe(fileNames, name[..^".pxar".Length] + MetadataIndex);
        if (NameRules.TryToServerArchiveName(name) is { } mapped && fileNames.Contains(mapped)) return Describe(fileNames, mapped);
        if (name is "client.log" or ClientLog) return new SnapshotArchive(ArchiveKind.Blob, ClientLog);
        return null;
    }

    /// <summary><see cref="Find"/>, or an error that lists the archives the snapshot has.</summary>
    /// <exception cref="Formats.BackupFsException">no such archive</exception>
    public static SnapshotArchive Resolve(IReadOnlyCollection<string> fileNames, string name, SnapshotRef snapshot) =>
        Find(fileNames, name) ?? throw new Formats.BackupFsException($"snapshot {snapshot} has no archive '{name}' (it has: {string.Join(", ", fileNames)})");

    /// <summary>
    /// A pxar archive by any of its names: root.pxar, root.mpxar, root.ppxar, their .didx server names,
    /// or the bare "root". A v1 archive wins over a split pair of the same name. Null when there is none.
    /// </summary>
    /// <exception cref="Formats.FormatCorruptException">a split archive's payload half is missing</exception>
    public static SnapshotArchive? FindPxar(IReadOnlyCollection<string> fileNames, string name)
    {
        var baseName = name;
        foreach (var suffix in new[] { PxarIndex, MetadataIndex, PayloadIndex, ".pxar", ".mpxar", ".ppxar" })
            if (baseName.EndsWith(suffix, StringComparison.Ordinal)) { baseName = baseName[..^suffix.Length]; break; }
        if (fileNames.Contains(baseName + PxarIndex)) return new SnapshotArchive(ArchiveKind.Pxar, baseName + PxarIndex);
        if (!fileNames.Contains(baseName + MetadataIndex)) return null;
        if (!fileNames.Contains(baseName + PayloadIndex))
            throw new Formats.FormatCorruptException($"split archive {baseName}{MetadataIndex} has no payload archive {baseName}{PayloadIndex}");
        return new SnapshotArchive(ArchiveKind.Pxar, baseName + MetadataIndex, baseName + PayloadIndex);
    }

    /// <summary>
    /// The name a server file is shown under (root.pxar for root.pxar.didx and for a split pair's
    /// metadata half, disk.img, qemu-server.conf); null for a split pair's payload half, which is part of its archive.
    /// </summary>
    public static string? ShownName(string fileName)
    {
        if (fileName.EndsWith(MetadataIndex, StringComparison.Ordinal)) return fileName[..^MetadataIndex.Length] + ".pxar";
        if (fileName.EndsWith(PayloadIndex, StringComparison.Ordinal)) return null;
        foreach (var suffix in new[] { ".didx", ".fidx", ".blob" })
            if (fileName.EndsWith(suffix, StringComparison.Ordinal)) return fileName[..^suffix.Length];
        return fileName;
    }

    /// <summary>The pxar archives of a snapshot by their shown names ("root.pxar", …), one per v1 archive or v2 pair.</summary>
    public static IEnumerable<string> PxarNames(IEnumerable<string> fileNames) =>
        fileNames.Where(f => f.EndsWith(PxarIndex, StringComparison.Ordinal) || f.EndsWith(MetadataIndex, StringComparison.Ordinal))
            .Select(f => ShownName(f)!);

    private static SnapshotArchive Describe(IReadOnlyCollection<string> fileNames, string file)
    {
        if (file.EndsWith(PxarIndex, StringComparison.Ordinal)) return new SnapshotArchive(ArchiveKind.Pxar, file);
        if (file.EndsWith(MetadataIndex, StringComparison.Ordinal))
        {
            var payload = file[..^MetadataIndex.Length] + PayloadIndex;
            return new SnapshotArchive(ArchiveKind.Pxar, file, fileNames.Contains(payload) ? payload : null);
        }
        if (file.EndsWith(".fidx", StringComparison.Ordinal)) return new SnapshotArchive(ArchiveKind.Image, file);
        if (file.EndsWith(".blob", StringComparison.Ordinal)) return new SnapshotArchive(ArchiveKind.Blob, file);
        return new SnapshotArchive(ArchiveKind.Stream, file);
    }
}
