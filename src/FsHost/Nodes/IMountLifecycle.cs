using BackupFs.FsHost.Vfs;

namespace BackupFs.FsHost.Nodes;

/// <summary>What a tree served by a <see cref="NodeHost"/> needs to hear about the mount as a whole.</summary>
public interface IMountLifecycle : IDisposable
{
    /// <summary>The kernel connection is up; <paramref name="notifier"/> stays usable until <see cref="Unmounting"/>.</summary>
    void Mounted(IKernelNotifier notifier);

    /// <summary>The session ends (unmount, DESTROY or shutdown).</summary>
    void Unmounting();

    /// <summary>See <see cref="IFileSystem.AppliesUmask"/>.</summary>
    bool AppliesUmask { get; }

    /// <summary>See <see cref="IFileSystem.KernelKeepsWriteTimes"/>.</summary>
    void KernelKeepsWriteTimes(bool keeps);

    /// <summary>See <see cref="IFileSystem.KernelPassesThrough"/>.</summary>
    void KernelPassesThrough(bool passesThrough) { }
}
