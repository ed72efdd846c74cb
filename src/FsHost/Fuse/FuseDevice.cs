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
        var whole = new LibC.IoVector { Base = buffer, Length = (nuint)length };
        return Write(&whole, 1);
    }

    /// <summary>Writes one whole message gathered from <paramref name="count"/> pieces (header and data
    /// slices); returns 0 or a positive errno. The kernel takes a message in one write or refuses it.</summary>
    public int Write(LibC.IoVector* vectors, int count)
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            while (true)
            {
                var n = LibC.Writev(Fd, vectors, count);
                if (n >= 0) return 0;
                var errno = LibC.LastErrno;
                if (errno != LibC.EINTR) return errno;
            }
        }
        catch (ObjectDisposedException) { return LibC.ENODEV; }
        finally { if (added) _handle.DangerousRelease(); }
    }

    private const nuint BackingOpen = 0x4010E501;  // FUSE_DEV_IOC_BACKING_OPEN = _IOW(229, 1, struct fuse_backing_map)
    private const nuint BackingClose = 0x4004E502; // FUSE_DEV_IOC_BACKING_CLOSE = _IOW(229, 2, uint32_t)

    /// <summary>Registers <paramref name="fd"/> as a passthrough backing file; returns its positive
    /// backing id, or -errno (EPERM without CAP_SYS_ADMIN or passthrough on the connection).</summary>
    public int OpenBacking(int fd)
    {
        var map = new Protocol.FuseBackingMap { Fd = fd };
        return Ioctl(BackingOpen, &map);
    }

    /// <summary>Drops a backing id (the kernel keeps the file until its last passthrough open closes).</summary>
    public int CloseBacking(int backingId) => Ioctl(BackingClose, &backingId);

    private int Ioctl(nuint request, void* argument)
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            var r = LibC.Ioctl(Fd, request, argument);
            return r >= 0 ? r : -LibC.LastErrno;
        }
        catch (ObjectDisposedException) { return -LibC.ENODEV; }
        finally { if (added) _handle.DangerousRelease(); }
    }

    public void Dispose() => _handle.Dispose();
}
