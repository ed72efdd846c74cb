using BackupFs.FsHost.Fuse.Interop;
using Microsoft.Win32.SafeHandles;

namespace BackupFs.FsHost.Fuse;

/// <summary>
/// The open /dev/fuse connection. Reference-counted so a late asynchronous reply never writes to
/// a closed (or reused) descriptor number: after <see cref="Dispose"/> writes are dropped.
/// </summary>
internal sealed unsafe class FuseDevice : IDisposable
{
    private readonly SafeFileHandle _handle;

    public FuseDevice(int fd) { _handle = new SafeFileHandle(fd, ownsHandle: true); Fd = fd; }

    public int Fd { get; }

    /// <summary>Reads one request; returns the length, or -errno.</summary>
    public int Read(byte* buffer, int capacity)
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            var n = LibC.Read(Fd, buffer, (nuint)capacity);
            return n >= 0 ? (int)n : -LibC.LastErrno;
        }
        catch (ObjectDisposedException) { return -LibC.ENODEV; }
        finally { if (added) _handle.DangerousRelease(); }
    }

    /// <summary>Writes one whole message; returns 0 or a positive errno (ENODEV once closed).</summary>
    public int Write(byte* buffer, int length)
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            while (true)
            {
                var n = LibC.Write(Fd, buffer, (nuint)length);
                if (n >= 0) return 0;
                var errno = LibC.LastErrno;
                if (errno != LibC.EINTR) return errno;
            }
        }
        catch (ObjectDisposedException) { return LibC.ENODEV; }
        finally { if (added) _handle.DangerousRelease(); }
    }

    public void Dispose() => _handle.Dispose();
}
